import { randomBytes } from 'node:crypto';
import { type Config, DEFAULT_ENVIRONMENTS } from '../config/schema.js';
import { type KeyGuards, keyGuardsSchema } from '../limits/runaway-config.js';
import type { Principal, Priority, RouteTier } from '../pipeline/types.js';
import { recordChange } from '../store/changes.js';
import { type Database, writeTransaction } from '../store/database.js';
import type { VirtualKeysTable } from '../store/tables.js';
import { generateVirtualKey, hashVirtualKey, isValidVirtualKey, keyHint } from './format.js';

export class KeyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 401 | 404 | 409 | 429 = 400,
  ) {
    super(message);
  }
}

export interface KeySettings {
  models?: string[] | null;
  maxTokens?: number | null;
  rpm?: number | null;
  tpm?: number | null;
  tpd?: number | null;
  priority?: Priority | null;
  maxTier?: RouteTier | null;
  allowAuto?: boolean;
  /** Absolute expiry time, epoch ms; null removes it. */
  expiresAt?: number | null;
  /** Who the key belongs to; spend can be grouped by it (`sluice spend --by developer`). */
  developer?: string | null;
  /** The key's own runaway-guard settings; null returns it to the configured defaults. */
  guards?: KeyGuards | null;
}

/**
 * `standard`: calls the API. `exchange`: a long-lived credential that calls nothing, only buys
 * short-lived keys (Claude Code's `apiKeyHelper`). `short_lived`: a key bought with one; it
 * acts with its credential's policy, developer and name, and ends with it.
 */
export type KeyKind = 'standard' | 'exchange' | 'short_lived';

export interface KeyCreate extends KeySettings {
  name: string;
  environment: string;
  kind?: 'standard' | 'exchange';
}

/** How short-lived keys are handed out (`keys.shortLived` in sluice.yaml). */
export interface ShortLivedPolicy {
  defaultTtlMs: number;
  maxTtlMs: number;
  /** Unexpired, unrevoked short-lived keys per credential at most. */
  maxActive: number;
}

export const DEFAULT_SHORT_LIVED: ShortLivedPolicy = {
  defaultTtlMs: 3_600_000,
  maxTtlMs: 12 * 3_600_000,
  maxActive: 50,
};

/** Short-lived keys expired this long ago are deleted when their credential buys another. */
const EXPIRED_KEPT_MS = 7 * 86_400_000;

/** A key row with the credential it was bought with (short-lived keys only). */
export interface KeyRecord {
  row: VirtualKeysTable;
  parent?: VirtualKeysTable;
}

/** A key as shown to people and scripts: never the secret, only its hint. */
export interface KeyView {
  id: string;
  name: string;
  environment: string;
  hint: string;
  status: 'active' | 'revoked' | 'expired';
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  models: string[] | null;
  maxTokens: number | null;
  rpm: number | null;
  tpm: number | null;
  tpd: number | null;
  priority: Priority | null;
  maxTier: RouteTier | null;
  allowAuto: boolean;
  developer: string | null;
  kind: KeyKind;
  /** The id of the credential a short-lived key was bought with. */
  parentId: string | null;
  guards: KeyGuards | null;
}

export interface KeyPolicy {
  naming: { pattern: string; rule: string };
  environments: string[];
  shortLived?: ShortLivedPolicy;
}

/** Naming rule and known environments (the four defaults plus those configured). */
export function keyPolicy(config: Config): KeyPolicy {
  return {
    naming: config.keys.naming,
    shortLived: config.keys.shortLived,
    environments: [...new Set([...DEFAULT_ENVIRONMENTS, ...Object.keys(config.environments)])],
  };
}

/** Lifecycle of virtual keys: create, list, update, revoke, rotate. Secrets are stored only as hashes. */
export class KeyService {
  private readonly namePattern: RegExp;

  constructor(
    private readonly db: Database,
    private readonly policy: KeyPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.namePattern = new RegExp(policy.naming.pattern);
  }

  async create(input: KeyCreate): Promise<{ key: string; view: KeyView }> {
    if (!this.namePattern.test(input.name)) {
      throw new KeyError(`key name "${input.name}" breaks the naming rule: ${this.policy.naming.rule}`);
    }
    if (!this.policy.environments.includes(input.environment)) {
      throw new KeyError(
        `unknown environment "${input.environment}"; known: ${this.policy.environments.join(', ')} (add others under environments: in sluice.yaml)`,
      );
    }
    const existing = await this.db
      .selectFrom('virtual_keys')
      .select('id')
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (existing)
      throw new KeyError(`a key named "${input.name}" already exists; rotate it or choose another name`, 409);
    const key = generateVirtualKey();
    const row = newKeyRow(key, {
      name: input.name,
      environment: input.environment,
      created_at: this.now(),
      kind: input.kind ?? 'standard',
      ...settingsToColumns(input),
    });
    await writeTransaction(this.db, async (trx) => {
      await trx.insertInto('virtual_keys').values(row).execute();
      await this.event(trx, row.id, 'created', {
        environment: row.environment,
        ...(row.developer === null ? {} : { developer: row.developer }),
        ...(row.kind === 'standard' ? {} : { kind: row.kind }),
      });
    });
    return { key, view: toView(row, this.now()) };
  }

  /**
   * Buys a short-lived key with an exchange credential (Claude Code's `apiKeyHelper`). The key
   * lives `ttlMs` (the policy's default when not given, never above its cap), acts with the
   * credential's policy and developer, and stops working when it expires, when it is revoked,
   * or when its credential is revoked.
   */
  async exchange(
    credential: string | undefined,
    ttlMs?: number,
  ): Promise<{ key: string; view: KeyView; ttlMs: number }> {
    const policy = this.policy.shortLived ?? DEFAULT_SHORT_LIVED;
    if (!credential) throw new KeyError('an exchange credential is required (Authorization: Bearer …)', 401);
    const parent = isValidVirtualKey(credential)
      ? await this.findByHash(hashVirtualKey(credential))
      : undefined;
    if (!parent) throw new KeyError('invalid exchange credential', 401);
    const status = keyStatus(parent, this.now());
    if (status !== 'active') throw new KeyError(`this exchange credential is ${status}`, 401);
    if (parent.kind !== 'exchange')
      throw new KeyError(
        `key "${parent.name}" is not an exchange credential; create one with sluice keys create-developer --helper`,
        401,
      );
    const ttl = ttlMs ?? policy.defaultTtlMs;
    if (!Number.isInteger(ttl) || ttl < 1000) throw new KeyError('ttl: at least 1 second');
    if (ttl > policy.maxTtlMs)
      throw new KeyError(
        `ttl: ${Math.round(ttl / 1000)} s is above the cap of ${Math.round(policy.maxTtlMs / 1000)} s (keys.shortLived.maxTtl)`,
      );
    const now = this.now();
    // The credential's own expiry bounds its keys too.
    const expiresAt = parent.expires_at === null ? now + ttl : Math.min(now + ttl, parent.expires_at);
    const active = await this.db
      .selectFrom('virtual_keys')
      .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min<number>('expires_at').as('first')])
      .where('parent_id', '=', parent.id)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(active?.count ?? 0) >= policy.maxActive) {
      const first = new Date(Number(active!.first)).toISOString();
      throw new KeyError(
        `credential "${parent.name}" already has ${policy.maxActive} short-lived keys alive (keys.shortLived.maxActive); the first expires at ${first}`,
        429,
      );
    }
    const key = generateVirtualKey();
    const row = newKeyRow(key, {
      name: `${parent.name}-sl-${randomBytes(5).toString('hex')}`,
      environment: parent.environment,
      created_at: now,
      expires_at: expiresAt,
      developer: parent.developer,
      kind: 'short_lived',
      parent_id: parent.id,
    });
    await writeTransaction(this.db, async (trx) => {
      await trx
        .deleteFrom('virtual_keys')
        .where('parent_id', '=', parent.id)
        .where('expires_at', '<', now - EXPIRED_KEPT_MS)
        .execute();
      await trx.insertInto('virtual_keys').values(row).execute();
      await this.event(trx, row.id, 'created', { kind: 'short_lived', parent: parent.id, expiresAt });
    });
    return { key, view: toView(row, now), ttlMs: expiresAt - now };
  }

  /** Keys, oldest first; short-lived keys only when asked for (a helper makes many). */
  async list(options: { shortLived?: boolean } = {}): Promise<KeyView[]> {
    let query = this.db.selectFrom('virtual_keys').selectAll();
    if (!options.shortLived) query = query.where('kind', '!=', 'short_lived');
    const rows = await query.orderBy('created_at').orderBy('name').execute();
    return rows.map((row) => toView(row, this.now()));
  }

  async get(name: string): Promise<KeyView> {
    return toView(await this.row(name), this.now());
  }

  async update(name: string, settings: KeySettings): Promise<KeyView> {
    const row = await this.row(name);
    const columns = settingsToColumns(settings);
    if (row.kind === 'short_lived' && Object.keys(columns).some((column) => column !== 'expires_at'))
      throw new KeyError(
        `key "${name}" is short-lived: it acts with its credential's settings; change those instead`,
      );
    if (Object.keys(columns).length > 0) {
      await writeTransaction(this.db, async (trx) => {
        await trx.updateTable('virtual_keys').set(columns).where('id', '=', row.id).execute();
        await this.event(trx, row.id, 'updated', columns);
      });
    }
    return this.get(name);
  }

  async revoke(name: string): Promise<KeyView> {
    const row = await this.row(name);
    if (row.revoked_at === null) {
      await writeTransaction(this.db, async (trx) => {
        await trx
          .updateTable('virtual_keys')
          .set({ revoked_at: this.now() })
          .where('id', '=', row.id)
          .execute();
        // A credential's short-lived keys end with it (authentication checks the credential too;
        // this keeps `keys list --short-lived` truthful).
        await trx
          .updateTable('virtual_keys')
          .set({ revoked_at: this.now() })
          .where('parent_id', '=', row.id)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', this.now())
          .execute();
        await this.event(trx, row.id, 'revoked', null);
      });
    }
    return this.get(name);
  }

  /** Replaces the secret of a key; the old secret stops working at once. */
  async rotate(name: string): Promise<{ key: string; view: KeyView }> {
    const row = await this.row(name);
    if (row.revoked_at !== null) throw new KeyError(`key "${name}" is revoked; create a new one instead`);
    if (row.kind === 'short_lived')
      throw new KeyError(
        `key "${name}" is short-lived: its credential buys a new one; revoke this one instead`,
      );
    const key = generateVirtualKey();
    await writeTransaction(this.db, async (trx) => {
      await trx
        .updateTable('virtual_keys')
        .set({ key_hash: hashVirtualKey(key), hint: keyHint(key), rotated_from: row.hint })
        .where('id', '=', row.id)
        .execute();
      await this.event(trx, row.id, 'rotated', { previousHint: row.hint });
    });
    return { key, view: await this.get(name) };
  }

  async findByHash(hash: string): Promise<VirtualKeysTable | undefined> {
    return this.db.selectFrom('virtual_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst();
  }

  /** A key by its hash, with the credential it was bought with when it is short-lived. */
  async findRecord(hash: string): Promise<KeyRecord | undefined> {
    const row = await this.findByHash(hash);
    if (!row) return undefined;
    if (!row.parent_id) return { row };
    const parentId = row.parent_id;
    const parent = await this.db
      .selectFrom('virtual_keys')
      .selectAll()
      .where('id', '=', parentId)
      .executeTakeFirst();
    return { row, parent };
  }

  async recordLastUsed(times: Map<string, number>): Promise<void> {
    for (const [id, at] of times) {
      await this.db.updateTable('virtual_keys').set({ last_used_at: at }).where('id', '=', id).execute();
    }
  }

  private async row(name: string): Promise<VirtualKeysTable> {
    const row = await this.db
      .selectFrom('virtual_keys')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw new KeyError(`no key named "${name}"`, 404);
    return row;
  }

  /** Audits the change and puts it on the change feed, in the transaction that made it. */
  private async event(trx: Database, keyId: string, event: string, detail: unknown): Promise<void> {
    await recordChange(trx, 'key', keyId);
    await trx
      .insertInto('key_events')
      .values({
        key_id: keyId,
        event,
        at: this.now(),
        detail: detail === null ? null : JSON.stringify(detail),
      })
      .execute();
  }
}

/** A new key's row: its secret stored as a hash and a hint, no limits unless given. */
function newKeyRow(
  key: string,
  fields: Pick<VirtualKeysTable, 'name' | 'environment' | 'created_at' | 'kind'> & Partial<VirtualKeysTable>,
): VirtualKeysTable {
  return {
    id: `key_${randomBytes(12).toString('hex')}`,
    key_hash: hashVirtualKey(key),
    hint: keyHint(key),
    expires_at: null,
    revoked_at: null,
    last_used_at: null,
    models: null,
    max_tokens: null,
    rpm: null,
    tpm: null,
    tpd: null,
    priority: null,
    max_tier: null,
    allow_auto: 1,
    rotated_from: null,
    developer: null,
    parent_id: null,
    guards: null,
    ...fields,
  };
}

function settingsToColumns(settings: KeySettings): Partial<VirtualKeysTable> {
  const columns: Partial<VirtualKeysTable> = {};
  if (settings.models !== undefined)
    columns.models = settings.models === null ? null : JSON.stringify(settings.models);
  if (settings.maxTokens !== undefined) columns.max_tokens = settings.maxTokens;
  if (settings.rpm !== undefined) columns.rpm = settings.rpm;
  if (settings.tpm !== undefined) columns.tpm = settings.tpm;
  if (settings.tpd !== undefined) columns.tpd = settings.tpd;
  if (settings.priority !== undefined) columns.priority = settings.priority;
  if (settings.maxTier !== undefined) columns.max_tier = settings.maxTier;
  if (settings.allowAuto !== undefined) columns.allow_auto = settings.allowAuto ? 1 : 0;
  if (settings.expiresAt !== undefined) columns.expires_at = settings.expiresAt;
  if (settings.developer !== undefined) columns.developer = settings.developer;
  if (settings.guards !== undefined)
    columns.guards = settings.guards === null ? null : JSON.stringify(keyGuardsSchema.parse(settings.guards));
  return columns;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function keyStatus(row: VirtualKeysTable, now: number): KeyView['status'] {
  if (row.revoked_at !== null) return 'revoked';
  if (row.expires_at !== null && row.expires_at <= now) return 'expired';
  return 'active';
}

export function toView(row: VirtualKeysTable, now: number): KeyView {
  return {
    id: row.id,
    name: row.name,
    environment: row.environment,
    hint: row.hint,
    status: keyStatus(row, now),
    createdAt: iso(row.created_at)!,
    expiresAt: iso(row.expires_at),
    lastUsedAt: iso(row.last_used_at),
    models: row.models ? (JSON.parse(row.models) as string[]) : null,
    maxTokens: row.max_tokens,
    rpm: row.rpm,
    tpm: row.tpm,
    tpd: row.tpd,
    priority: row.priority as Priority | null,
    maxTier: row.max_tier as RouteTier | null,
    allowAuto: row.allow_auto === 1,
    developer: row.developer ?? null,
    kind: (row.kind ?? 'standard') as KeyKind,
    parentId: row.parent_id ?? null,
    guards: guardsOf(row),
  };
}

function guardsOf(row: VirtualKeysTable): KeyGuards | null {
  if (!row.guards) return null;
  const parsed = keyGuardsSchema.safeParse(JSON.parse(row.guards));
  return parsed.success ? parsed.data : null;
}

/**
 * What the stages know of a key. A short-lived key acts as the credential it was bought with:
 * the credential's id (its quotas, budgets and ledger rows are the credential's), name, policy
 * and developer; only its own expiry and revocation are its own.
 */
export function toPrincipal(row: VirtualKeysTable, parent?: VirtualKeysTable): Principal {
  const policy = parent ?? row;
  const quotas = {
    rpm: policy.rpm ?? undefined,
    tpm: policy.tpm ?? undefined,
    tpd: policy.tpd ?? undefined,
  };
  return {
    keyId: policy.id,
    name: policy.name,
    environment: policy.environment,
    models: policy.models ? (JSON.parse(policy.models) as string[]) : undefined,
    maxTokens: policy.max_tokens ?? undefined,
    quotas: quotas.rpm || quotas.tpm || quotas.tpd ? quotas : undefined,
    priority: (policy.priority as Priority | null) ?? undefined,
    routing: {
      maxTier: (policy.max_tier as RouteTier | null) ?? undefined,
      allowAuto: policy.allow_auto === 1,
    },
    developer: policy.developer ?? undefined,
    guards: guardsOf(policy) ?? undefined,
  };
}
