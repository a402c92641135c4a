import type { Kysely } from 'kysely';
import type { Tables } from '../store/tables.js';
import { ApiError } from './errors.js';
import type { Stage } from './stage.js';
import type { Call } from './types.js';

/** What an endpoint does with an upstream object: the ownership stage acts on it. */
export interface OwnershipRule {
  /** `file`, `skill`, or any other kind of object an endpoint creates (a batch). */
  kind: string;
  action: 'create' | 'list' | 'read' | 'delete';
  /** The path parameter holding the object's id (read, delete). */
  param?: string;
}

/**
 * Who created which upstream object (table `upstream_objects`). Generic over kinds: files and
 * skills today, any object an endpoint creates tomorrow.
 */
export class UpstreamObjects {
  constructor(private readonly db: Kysely<Tables>) {}

  async remember(id: string, kind: string, keyId: string, environment: string): Promise<void> {
    await this.db
      .insertInto('upstream_objects')
      .values({ id, kind, key_id: keyId, environment, created_at: Date.now(), deleted_at: null })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .execute();
  }

  /** Those of `ids` that the key created and that are not deleted. */
  async ownedBy(keyId: string, kind: string, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('upstream_objects')
      .select('id')
      .where('key_id', '=', keyId)
      .where('kind', '=', kind)
      .where('deleted_at', 'is', null)
      .where('id', 'in', [...new Set(ids)])
      .execute();
    return new Set(rows.map((row) => row.id));
  }

  async forget(id: string): Promise<void> {
    await this.db
      .updateTable('upstream_objects')
      .set({ deleted_at: Date.now() })
      .where('id', '=', id)
      .execute();
  }
}

/** `File not found: …`, as the API words it. */
const nameOf = (kind: string) => kind.charAt(0).toUpperCase() + kind.slice(1);

/** Anthropic's own skills (`pptx`, `xlsx` …) belong to everyone; custom ones (`skill_…`) to their creator. */
const needsOwner = (kind: string, id: string) => kind !== 'skill' || id.startsWith('skill_');

/**
 * The ownership stage of an endpoint: a key sees, reads and deletes only the objects it created.
 * Anything else is answered 404 as if it did not exist, and nothing reaches the upstream.
 */
export function ownershipStage(objects: UpstreamObjects, rule: OwnershipRule): Stage {
  return {
    name: 'ownership',
    async run(call) {
      const principal = call.principal!;
      if (rule.action === 'create') {
        call.rewriteAnswer = async (status, body) => {
          const id = objectId(body);
          if (status < 300 && id)
            await objects.remember(id, rule.kind, principal.keyId, principal.environment);
          return body;
        };
        return;
      }
      if (rule.action === 'list') {
        call.rewriteAnswer = (status, body) => (status < 300 ? ownPage(objects, rule, call, body) : body);
        return;
      }
      const id = call.params?.[rule.param ?? 'id'] ?? '';
      if (needsOwner(rule.kind, id)) {
        const owned = await objects.ownedBy(principal.keyId, rule.kind, [id]);
        if (!owned.has(id)) throw new ApiError(404, `${nameOf(rule.kind)} not found: ${id}`);
      }
      if (rule.action === 'delete') {
        call.rewriteAnswer = async (status, body) => {
          if (status < 300) await objects.forget(id);
          return body;
        };
      }
    },
  };
}

function objectId(body: Buffer): string | undefined {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

interface Page {
  data?: Array<{ id?: unknown; source?: { type?: unknown } }>;
  first_id?: string | null;
  last_id?: string | null;
  [field: string]: unknown;
}

/**
 * A list page with only the key's own objects (and, for skills, Anthropic's). Pagination stays
 * the upstream's: a page may hold fewer items than `limit` while `has_more` says there are more.
 */
async function ownPage(
  objects: UpstreamObjects,
  rule: OwnershipRule,
  call: Call,
  body: Buffer,
): Promise<Buffer> {
  let page: Page;
  try {
    page = JSON.parse(body.toString('utf8')) as Page;
  } catch {
    return Buffer.from(JSON.stringify({ data: [], has_more: false, first_id: null, last_id: null }));
  }
  const items = Array.isArray(page.data) ? page.data : [];
  const ids = items.map((item) => (typeof item.id === 'string' ? item.id : '')).filter(Boolean);
  const owned = await objects.ownedBy(
    call.principal!.keyId,
    rule.kind,
    ids.filter((id) => needsOwner(rule.kind, id)),
  );
  const visible = items.filter((item) => {
    const id = typeof item.id === 'string' ? item.id : '';
    if (!id) return false;
    if (rule.kind === 'skill' && item.source?.type !== undefined && item.source.type !== 'custom')
      return true;
    return !needsOwner(rule.kind, id) || owned.has(id);
  });
  const first = visible[0]?.id;
  const last = visible[visible.length - 1]?.id;
  const filtered: Page = { ...page, data: visible };
  if ('first_id' in page) filtered.first_id = typeof first === 'string' ? first : null;
  if ('last_id' in page) filtered.last_id = typeof last === 'string' ? last : null;
  return Buffer.from(JSON.stringify(filtered));
}

/**
 * Files and custom skills a Messages request names (`file_id` in content blocks, `skill_id` in
 * `container.skills`) must be the key's own: another key's id is answered 404 before the upstream.
 */
export function referencedObjectsStage(objects: UpstreamObjects): Stage {
  return {
    name: 'ownership',
    run(call) {
      if (!mayReference(call.rawBody)) return;
      const files = new Set<string>();
      collectFileIds(call.body.messages, files, 0);
      collectFileIds(call.body.system, files, 0);
      const skills = customSkillIds(call.body.container);
      if (files.size === 0 && skills.length === 0) return;
      const keyId = call.principal!.keyId;
      return Promise.all([
        objects.ownedBy(keyId, 'file', [...files]),
        objects.ownedBy(keyId, 'skill', skills),
      ]).then(([ownFiles, ownSkills]) => {
        for (const id of files) if (!ownFiles.has(id)) throw new ApiError(404, `File not found: ${id}`);
        for (const id of skills) if (!ownSkills.has(id)) throw new ApiError(404, `Skill not found: ${id}`);
      });
    },
  };
}

const FILE_ID = Buffer.from('"file_id"');
const SKILL_ID = Buffer.from('"skill_id"');
const UNICODE_ESCAPE = Buffer.from('\\u');

/**
 * Whether the body can name a file or a skill: most bodies are settled by a byte search, without
 * walking them. A key spelled with escapes (`"file\u005fid"`) is still walked.
 */
function mayReference(raw: Buffer): boolean {
  if (raw.length === 0) return true;
  return raw.includes(FILE_ID) || raw.includes(SKILL_ID) || raw.includes(UNICODE_ESCAPE);
}

/** Every `file_id` string in the content, at any depth the body allows (it is depth-checked). */
function collectFileIds(value: unknown, into: Set<string>, depth: number): void {
  if (depth > 64 || typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) collectFileIds(item, into, depth + 1);
    return;
  }
  for (const [field, inner] of Object.entries(value)) {
    if (field === 'file_id' && typeof inner === 'string') into.add(inner);
    else collectFileIds(inner, into, depth + 1);
  }
}

function customSkillIds(container: unknown): string[] {
  if (typeof container !== 'object' || container === null) return [];
  const skills = (container as { skills?: unknown }).skills;
  if (!Array.isArray(skills)) return [];
  return skills
    .map((skill) => (skill as { skill_id?: unknown })?.skill_id)
    .filter((id): id is string => typeof id === 'string' && needsOwner('skill', id));
}
