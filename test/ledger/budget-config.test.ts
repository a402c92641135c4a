import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/catalog/money.js';
import { applyBudgetsConfig, parseBudgetsConfig, webhookUrlOf } from '../../src/ledger/budget-config.js';
import { listBudgets, setBudget } from '../../src/ledger/budget-store.js';
import type { Store } from '../../src/store/database.js';
import { storeKinds } from './stores.js';

describe('budgets from sluice.yaml', () => {
  let store: Store;
  beforeEach(async () => {
    store = await storeKinds[0]!.open('budget-config');
  });
  afterEach(async () => {
    await store.close();
  });

  it('applies the listed budgets and removes config budgets no longer listed, leaving CLI ones alone', async () => {
    await store.db
      .insertInto('virtual_keys')
      .values({
        id: 'key_123',
        name: 'prod-backend-v1',
        environment: 'production',
        key_hash: 'h',
        hint: 'x',
        created_at: 1,
        allow_auto: 1,
      })
      .execute();
    await setBudget(store.db, { scope: 'environment', subject: 'ci', window: 'daily', usd: '3' }, 'cli');
    const first = parseBudgetsConfig({
      thresholds: [75, 100],
      limits: [
        { scope: 'global', window: 'monthly', usd: 500 },
        { scope: 'key', key: 'prod-backend-v1', window: 'total', usd: '20', thresholds: [90] },
        { scope: 'key', key: 'nobody', window: 'daily', usd: '1' },
      ],
    });
    const result = await applyBudgetsConfig(store.db, first);
    expect(result.warnings).toEqual([
      'budgets.limits: no virtual key named or with id "nobody"; the budget applies once it exists',
    ]);
    const budgets = await listBudgets(store.db);
    expect(budgets.map((b) => [b.id, b.limitPico, b.thresholds, b.source])).toEqual([
      ['environment:ci:daily', usdToPico('3'), [50, 80, 100], 'cli'],
      ['global:monthly', usdToPico('500'), [75, 100], 'config'],
      ['key:key_123:total', usdToPico('20'), [90], 'config'],
      ['key:nobody:daily', usdToPico('1'), [75, 100], 'config'],
    ]);
    const second = await applyBudgetsConfig(
      store.db,
      parseBudgetsConfig({ limits: [{ scope: 'global', window: 'monthly', usd: '600' }] }),
    );
    expect(second.removed).toEqual(['key:key_123:total', 'key:nobody:daily']);
    expect((await listBudgets(store.db)).map((b) => [b.id, b.limitPico])).toEqual([
      ['environment:ci:daily', usdToPico('3')],
      ['global:monthly', usdToPico('600')],
    ]);
  });

  it('rejects a malformed section with the field at fault', () => {
    expect(() => parseBudgetsConfig({ limits: [{ scope: 'key', window: 'daily', usd: '1' }] })).toThrow(
      /key/,
    );
    expect(() => parseBudgetsConfig({ limits: [{ scope: 'global', window: 'weekly', usd: '1' }] })).toThrow(
      /window/,
    );
    expect(() => parseBudgetsConfig({ limits: [{ scope: 'global', window: 'daily', usd: '-1' }] })).toThrow(
      /USD amount/,
    );
    expect(() => parseBudgetsConfig({ webhok: {} })).toThrow();
  });

  it('reads the webhook URL from the environment variable it names', () => {
    const config = parseBudgetsConfig({});
    expect(webhookUrlOf(config, { SLUICE_ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).toBe(
      'http://127.0.0.1:9/hook',
    );
    expect(webhookUrlOf(config, {})).toBeUndefined();
    expect(webhookUrlOf(parseBudgetsConfig({ webhook: { url: 'http://127.0.0.1:8/x' } }), {})).toBe(
      'http://127.0.0.1:8/x',
    );
  });
});
