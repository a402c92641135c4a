import { randomBytes } from 'node:crypto';
import { type Config, DEFAULT_ENVIRONMENTS } from '../config/schema.js';
import type { Principal, Priority, RouteTier } from '../pipeline/types.js';
import { recordChange } from '../store/changes.js';
import { type Database, writeTransaction } from '../store/database.js';
import type { VirtualKeysTable } from '../store/tables.js';
import { generateVirtualKey, hashVirtualKey, keyHint } from './format.js';

export class KeyError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 = 400,
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
}

export interface KeyCreate extends KeySettings {
  name: string;
  environment: string;
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
}

export interface KeyPolicy {
  naming: { pattern: string; rule: string };
  environments: string[];
}

/** Naming rule and known environments (the four defaults plus those configured). */
export function keyPolicy(config: Config): KeyPolicy {
  return {
    naming: config.keys.naming,
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
    const row: VirtualKeysTable = {
      id: `key_${randomBytes(12).toString('hex')}`,
      name: input.name,
      environment: input.environment,
      key_hash: hashVirtualKey(key),
      hint: keyHint(key),
      created_at: this.now(),
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
      ...settingsToColumns(input),
    };
    await writeTransaction(this.db, async (trx) => {
      await trx.insertInto('virtual_keys').values(row).execute();
      await this.event(trx, row.id, 'created', { environment: row.environment });
    });
    return { key, view: toView(row, this.now()) };
  }

  async list(): Promise<KeyView[]> {
    const rows = await this.db
      .selectFrom('virtual_keys')
      .selectAll()
      .orderBy('created_at')
      .orderBy('name')
      .execute();
    return rows.map((row) => toView(row, this.now()));
  }

  async get(name: string): Promise<KeyView> {
    return toView(await this.row(name), this.now());
  }

  async update(name: string, settings: KeySettings): Promise<KeyView> {
    const row = await this.row(name);
    const columns = settingsToColumns(settings);
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
        await this.event(trx, row.id, 'revoked', null);
      });
    }
    return this.get(name);
  }

  /** Replaces the secret of a key; the old secret stops working at once. */
  async rotate(name: string): Promise<{ key: string; view: KeyView }> {
    const row = await this.row(name);
    if (row.revoked_at !== null) throw new KeyError(`key "${name}" is revoked; create a new one instead`);
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
  };
}

export function toPrincipal(row: VirtualKeysTable): Principal {
  const quotas = { rpm: row.rpm ?? undefined, tpm: row.tpm ?? undefined, tpd: row.tpd ?? undefined };
  return {
    keyId: row.id,
    name: row.name,
    environment: row.environment,
    models: row.models ? (JSON.parse(row.models) as string[]) : undefined,
    maxTokens: row.max_tokens ?? undefined,
    quotas: quotas.rpm || quotas.tpm || quotas.tpd ? quotas : undefined,
    priority: (row.priority as Priority | null) ?? undefined,
    routing: { maxTier: (row.max_tier as RouteTier | null) ?? undefined, allowAuto: row.allow_auto === 1 },
  };
}
