import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { DEFAULT_KEY_NAMING } from '../../src/config/schema.js';
import { auditKeys } from '../../src/keys/audit.js';
import { KeyService } from '../../src/keys/service.js';
import { setBudget } from '../../src/ledger/budget-store.js';
import { toLedgerRow } from '../../src/ledger/entry.js';
import type { Store } from '../../src/store/database.js';
import { entry, storeKinds } from '../ledger/stores.js';

const DAY = 86_400_000;
const catalog = defaultCatalog();

describe.each(storeKinds)('sluice keys audit on $kind', ({ kind, open }) => {
  let store: Store;
  let now = Date.UTC(2026, 10, 27);
  const environments = ['development', 'production', 'ci'];
  const anyName = { pattern: '.*', rule: 'anything' };
  // Keys made before the naming rule was tightened: the audit judges them by today's rule.
  let lenient: KeyService;
  let strict: KeyService;

  beforeEach(async () => {
    store = await open(`audit_${kind}`);
    lenient = new KeyService(store.db, { naming: anyName, environments }, () => now);
    strict = new KeyService(store.db, { naming: DEFAULT_KEY_NAMING, environments }, () => now);
  });
  afterEach(() => store.close());

  it('flags unused, expired, budgetless, unused-model and badly named keys, and nothing else', async () => {
    const start = now;
    now = start - 200 * DAY;
    const active = await lenient.create({
      name: 'prod-billing-v1',
      environment: 'production',
      models: ['claude-haiku-4-5', 'claude-opus-4-1'],
    });
    const idle = await lenient.create({ name: 'prod-reports-v1', environment: 'production' });
    const oddName = await lenient.create({ name: 'Bobs_Key', environment: 'development' });
    const expiring = await lenient.create({
      name: 'ci-tests-v1',
      environment: 'ci',
      expiresAt: start - 10 * DAY,
    });
    const gone = await lenient.create({ name: 'prod-old-v1', environment: 'production' });
    await lenient.revoke(gone.view.name);
    now = start - 5 * DAY;
    const young = await lenient.create({ name: 'dev-new-v1', environment: 'development' });
    now = start;

    // Use: the billing key used Haiku 3 days ago (never Opus); the odd one 10 days ago.
    const used = async (keyId: string, name: string, at: number, model: string) => {
      await store.db.updateTable('virtual_keys').set({ last_used_at: at }).where('name', '=', name).execute();
      await store.db
        .insertInto('ledger')
        .values(toLedgerRow(entry({ keyId, at, model, requestedModel: 'claude-haiku-4-5' })))
        .execute();
    };
    await used(active.view.id, 'prod-billing-v1', start - 3 * DAY, 'claude-haiku-4-5-20251001');
    await used(oddName.view.id, 'Bobs_Key', start - 10 * DAY, 'claude-haiku-4-5-20251001');
    // Budgets: the production environment has one, and the CI key one of its own.
    await setBudget(
      store.db,
      { scope: 'environment', subject: 'production', window: 'monthly', usd: '100' },
      'cli',
    );
    await setBudget(
      store.db,
      { scope: 'key', subject: expiring.view.id, window: 'monthly', usd: '5' },
      'cli',
    );

    const audit = await auditKeys(store.db, strict, { naming: DEFAULT_KEY_NAMING, environments }, catalog, {
      unusedDays: 90,
      now: start,
    });
    const flags = Object.fromEntries(audit.keys.map((k) => [k.name, k.flags]));
    expect(flags).toEqual({
      'prod-billing-v1': ['unused_models'],
      'prod-reports-v1': ['unused'],
      Bobs_Key: ['no_budget', 'bad_name'],
      'ci-tests-v1': ['unused', 'expired'],
      'dev-new-v1': ['no_budget'],
    });
    expect(audit.keys.find((k) => k.name === 'prod-billing-v1')!.unusedModels).toEqual(['claude-opus-4-1']);
    expect(audit.keys.map((k) => k.id)).not.toContain(gone.view.id);
    expect(audit.keys.find((k) => k.id === young.view.id)!.flags).not.toContain('unused');
    expect(idle.view.id).toBe(audit.keys.find((k) => k.name === 'prod-reports-v1')!.id);

    // A shorter window: the odd key's use 10 days ago is now too old.
    const week = await auditKeys(store.db, strict, { naming: DEFAULT_KEY_NAMING, environments }, catalog, {
      unusedDays: 7,
      now: start,
    });
    expect(week.keys.find((k) => k.name === 'Bobs_Key')!.flags).toContain('unused');
    expect(week.keys.find((k) => k.name === 'prod-billing-v1')!.flags).not.toContain('unused');
  });
});
