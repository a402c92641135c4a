import busboy from 'busboy';
import { ApiError } from './errors.js';
import { pageOf } from './files.js';
import { type Exchange, sendJson } from './http.js';
import { base62String } from './random.js';

interface SkillVersion {
  id: string;
  skillId: string;
  name: string;
  description: string;
  createdAt: string;
}

interface Skill {
  id: string;
  displayName: string;
  source: 'custom' | 'anthropic';
  createdAt: string;
  updatedAt: string;
  versions: SkillVersion[];
}

/** Anthropic's own skills, listed for every organization and not deletable. */
const ANTHROPIC_SKILLS = ['docx', 'pdf', 'pptx', 'xlsx'];

export class SkillStore {
  readonly skills = new Map<string, Skill>();
  private counter = 0;

  constructor() {
    this.clear();
  }

  /** Version ids are timestamps in microseconds, unique within the simulator. */
  nextVersion(nowMs: number): string {
    this.counter++;
    return String(nowMs * 1000 + (this.counter % 1000));
  }

  clear(): void {
    this.skills.clear();
    for (const id of ANTHROPIC_SKILLS) {
      this.skills.set(id, {
        id,
        displayName: id,
        source: 'anthropic',
        createdAt: '2025-10-16T00:00:00Z',
        updatedAt: '2025-10-16T00:00:00Z',
        versions: [
          {
            id: 'latest',
            skillId: id,
            name: id,
            description: `Anthropic's ${id} skill`,
            createdAt: '2025-10-16T00:00:00Z',
          },
        ],
      });
    }
  }
}

function skillObject(skill: Skill) {
  return {
    id: skill.id,
    type: 'skill',
    display_name: skill.displayName,
    source: { type: skill.source },
    latest_version_id: skill.versions[skill.versions.length - 1]?.id ?? null,
    created_at: skill.createdAt,
    updated_at: skill.updatedAt,
  };
}

function versionObject(version: SkillVersion) {
  return {
    id: version.id,
    type: 'skill_version',
    skill_id: version.skillId,
    name: version.name,
    description: version.description,
    created_at: version.createdAt,
  };
}

/**
 * The files of a skill upload (multipart `files[]`, small: the catalog's skills limit), read whole,
 * and `display_name`. A `SKILL.md` with `name:` and `description:` in its front matter is required.
 */
async function readSkillUpload(
  exchange: Exchange,
): Promise<{ displayName?: string; name: string; description: string }> {
  const { req, state } = exchange;
  const limit = state.catalog.uploadLimitBytes('skills');
  const declared = Number(req.headers['content-length']);
  if (limit !== undefined && Number.isFinite(declared) && declared > limit)
    throw new ApiError(413, `Skill upload exceeds the maximum allowed size of ${limit} bytes.`);
  if (!(req.headers['content-type'] ?? '').startsWith('multipart/form-data'))
    throw new ApiError(400, 'content-type: multipart/form-data is required');
  const parser = busboy({ headers: req.headers, limits: { fileSize: limit } });
  let skillMd: string | undefined;
  let displayName: string | undefined;
  let files = 0;
  await new Promise<void>((resolve, reject) => {
    parser.on('file', (_field, stream, info) => {
      files++;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () =>
        reject(new ApiError(413, `Skill upload exceeds the maximum allowed size of ${limit} bytes.`)),
      );
      stream.on('end', () => {
        if ((info.filename ?? '').split('/').pop() === 'SKILL.md')
          skillMd = Buffer.concat(chunks).toString('utf8');
      });
    });
    parser.on('field', (name, value) => {
      if (name === 'display_name') displayName = value;
    });
    parser.on('error', (error) =>
      reject(new ApiError(400, `invalid multipart body: ${(error as Error).message}`)),
    );
    parser.on('close', () => resolve());
    req.pipe(parser);
  });
  if (files === 0) throw new ApiError(400, 'files: Field required');
  if (skillMd === undefined)
    throw new ApiError(400, 'files: a SKILL.md file is required at the root of the skill');
  const field = (key: string) => new RegExp(`^${key}:\\s*(.+)$`, 'm').exec(skillMd!)?.[1]?.trim();
  const name = field('name');
  const description = field('description');
  if (!name || !description)
    throw new ApiError(400, 'SKILL.md: the front matter must give name and description');
  return { displayName, name, description };
}

const notFound = (id: string) => new ApiError(404, `Skill not found: ${id}`);

function skillOf(exchange: Exchange, id: string): Skill {
  const skill = exchange.state.skills.skills.get(id);
  if (!skill) throw notFound(id);
  return skill;
}

export async function createSkill(exchange: Exchange): Promise<void> {
  const upload = await readSkillUpload(exchange);
  const { state } = exchange;
  const now = new Date(state.clock.now()).toISOString();
  const id = `skill_01${base62String(22)}`;
  const skill: Skill = {
    id,
    displayName: upload.displayName ?? upload.name,
    source: 'custom',
    createdAt: now,
    updatedAt: now,
    versions: [
      {
        id: state.skills.nextVersion(state.clock.now()),
        skillId: id,
        name: upload.name,
        description: upload.description,
        createdAt: now,
      },
    ],
  };
  state.skills.skills.set(id, skill);
  sendJson(exchange, 200, skillObject(skill));
}

export function listSkills(exchange: Exchange): void {
  const source = exchange.url.searchParams.get('source');
  const all = [...exchange.state.skills.skills.values()]
    .filter((skill) => !source || skill.source === source)
    .reverse();
  sendJson(exchange, 200, pageOf(exchange, all, skillObject));
}

export function getSkill(exchange: Exchange, id: string): void {
  sendJson(exchange, 200, skillObject(skillOf(exchange, id)));
}

/** Only a custom skill without versions left can be deleted. */
export function deleteSkill(exchange: Exchange, id: string): void {
  const skill = skillOf(exchange, id);
  if (skill.source !== 'custom') throw new ApiError(400, `Skill ${id} is not a custom skill`);
  if (skill.versions.length > 0)
    throw new ApiError(400, `Skill ${id} has versions: delete them before the skill`);
  exchange.state.skills.skills.delete(id);
  sendJson(exchange, 200, { id, type: 'skill_deleted' });
}

export async function createVersion(exchange: Exchange, skillId: string): Promise<void> {
  const skill = skillOf(exchange, skillId);
  if (skill.source !== 'custom') throw new ApiError(400, `Skill ${skillId} is not a custom skill`);
  const upload = await readSkillUpload(exchange);
  const { state } = exchange;
  const now = new Date(state.clock.now()).toISOString();
  const version: SkillVersion = {
    id: state.skills.nextVersion(state.clock.now()),
    skillId,
    name: upload.name,
    description: upload.description,
    createdAt: now,
  };
  skill.versions.push(version);
  skill.updatedAt = now;
  sendJson(exchange, 200, versionObject(version));
}

export function listVersions(exchange: Exchange, skillId: string): void {
  const skill = skillOf(exchange, skillId);
  sendJson(exchange, 200, pageOf(exchange, [...skill.versions].reverse(), versionObject));
}

function versionOf(exchange: Exchange, skillId: string, versionId: string): { skill: Skill; at: number } {
  const skill = skillOf(exchange, skillId);
  const at = skill.versions.findIndex((v) => v.id === versionId);
  if (at < 0) throw new ApiError(404, `Skill version not found: ${versionId}`);
  return { skill, at };
}

export function getVersion(exchange: Exchange, skillId: string, versionId: string): void {
  const { skill, at } = versionOf(exchange, skillId, versionId);
  sendJson(exchange, 200, versionObject(skill.versions[at]!));
}

export function deleteVersion(exchange: Exchange, skillId: string, versionId: string): void {
  const { skill, at } = versionOf(exchange, skillId, versionId);
  if (skill.source !== 'custom') throw new ApiError(400, `Skill ${skillId} is not a custom skill`);
  skill.versions.splice(at, 1);
  sendJson(exchange, 200, { id: versionId, type: 'skill_version_deleted' });
}
