import { sql } from 'kysely';
import type { Catalog } from '../catalog/catalog.js';
import { listBudgets } from '../ledger/budget-store.js';
import type { Database } from '../store/database.js';
import type { KeyPolicy, KeyService, KeyView } from './service.js';

/**
 * The quarterly key audit, automated: what an operator should look at among the virtual keys.
 * - `unused`: no request for N days (a key never used counts from its creation);
 * - `expired`: past its expiry, still on the books;
 * - `no_budget`: no budget covers it (none for the key, its environment, or everything);
 * - `unused_models`: models its allow-list grants that it has not used in N days;
 * - `bad_name`: its name breaks the naming rule.
 * Revoked keys are left out: there is nothing left to do with them.
 */
export type KeyAuditFlag = 'unused' | 'expired' | 'no_budget' | 'unused_models' | 'bad_name';

export interface KeyAuditEntry {
  id: string;
  name: string;
  environment: string;
  status: KeyView['status'];
  createdAt: string;
  lastUsedAt: string | null;
  flags: KeyAuditFlag[];
  /** Allowed models not used in the window (with `unused_models`). */
  unusedModels?: string[];
}

export interface KeyAudit {
  generated_at: string;
  unused_days: number;
  naming_rule: string;
  keys: KeyAuditEntry[];
}

export interface KeyAuditOptions {
  unusedDays: number;
  now?: number;
}

const DAY_MS = 86_400_000;

export async function auditKeys(
  db: Database,
  keys: KeyService,
  policy: KeyPolicy,
  catalog: Catalog,
  options: KeyAuditOptions,
): Promise<KeyAudit> {
  const now = options.now ?? Date.now();
  const since = now - options.unusedDays * DAY_MS;
  const views = (await keys.list()).filter((view) => view.status !== 'revoked');
  const budgets = await listBudgets(db);
  const used = await modelsUsedSince(db, since);
  const namePattern = new RegExp(policy.naming.pattern);
  const covered = (view: KeyView) =>
    budgets.some(
      (b) =>
        b.scope === 'global' ||
        (b.scope === 'environment' && b.subject === view.environment) ||
        (b.scope === 'key' && b.subject === view.id),
    );

  const entries = views.map((view): KeyAuditEntry => {
    const flags: KeyAuditFlag[] = [];
    const lastUsed = view.lastUsedAt ? Date.parse(view.lastUsedAt) : undefined;
    const created = Date.parse(view.createdAt);
    const olderThanWindow = created < since;
    if ((lastUsed ?? (olderThanWindow ? 0 : now)) < since) flags.push('unused');
    if (view.status === 'expired') flags.push('expired');
    if (!covered(view)) flags.push('no_budget');
    let unusedModels: string[] | undefined;
    if (view.models && view.models.length > 0 && olderThanWindow) {
      const mine = used.get(view.id) ?? new Set<string>();
      const usedIds = new Set([...mine].map((m) => catalog.model(m)?.id ?? m));
      unusedModels = view.models.filter((m) => !mine.has(m) && !usedIds.has(catalog.model(m)?.id ?? m));
      if (unusedModels.length > 0) flags.push('unused_models');
      else unusedModels = undefined;
    }
    if (!namePattern.test(view.name)) flags.push('bad_name');
    return {
      id: view.id,
      name: view.name,
      environment: view.environment,
      status: view.status,
      createdAt: view.createdAt,
      lastUsedAt: view.lastUsedAt,
      flags,
      ...(unusedModels ? { unusedModels } : {}),
    };
  });
  return {
    generated_at: new Date(now).toISOString(),
    unused_days: options.unusedDays,
    naming_rule: policy.naming.rule,
    keys: entries,
  };
}

/** Models each key has asked for or been served since a time, from the ledger and its daily totals. */
async function modelsUsedSince(db: Database, since: number): Promise<Map<string, Set<string>>> {
  const rows = await db
    .selectFrom('ledger')
    .select(['key_id', 'model', 'requested_model'])
    .where('at', '>=', since)
    .where('key_id', 'is not', null)
    .groupBy(['key_id', 'model', 'requested_model'])
    .execute();
  const daily = await db
    .selectFrom('ledger_daily')
    .select(['key_id', 'model'])
    .where('day', '>=', new Date(since).toISOString().slice(0, 10))
    .where(sql<boolean>`key_id <> ''`)
    .groupBy(['key_id', 'model'])
    .execute();
  const used = new Map<string, Set<string>>();
  const add = (keyId: string, model: string) => {
    let set = used.get(keyId);
    if (!set) {
      set = new Set();
      used.set(keyId, set);
    }
    set.add(model);
  };
  for (const row of rows) {
    add(row.key_id!, row.model);
    add(row.key_id!, row.requested_model);
  }
  for (const row of daily) add(row.key_id, row.model);
  return used;
}
