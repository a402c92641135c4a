import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { costOf, worstCaseCost } from '../../src/catalog/cost.js';
import { usdToPico } from '../../src/catalog/money.js';
import { BudgetEnforcer, type ThresholdEvent } from '../../src/ledger/budget-enforcer.js';
import { deleteBudget, listBudgets, setBudget } from '../../src/ledger/budget-store.js';
import { windowAt } from '../../src/ledger/budget-window.js';
import { spendTotal } from '../../src/ledger/queries.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Store } from '../../src/store/database.js';
import { entry, storeKinds } from './stores.js';

const model = 'claude-sonnet-4-5-20250929';

describe.each(storeKinds)('budgets on $kind', ({ kind, open }) => {
  let store: Store;
  beforeEach(async () => {
    store = await open(`budgets_${kind}`);
  });
  afterEach(async () => {
    await store.close();
  });

  it('never lets 50 concurrent requests spend more than a $1.00 budget', async () => {
    await setBudget(store.db, { scope: 'key', subject: 'key_a', window: 'monthly', usd: '1.00' }, 'cli');
    const enforcer = new BudgetEnforcer(store.db);
    await enforcer.load();
    const writer = new LedgerWriter(store.db, { intervalMs: 5 });
    const at = new Date();
    let admitted = 0;
    let refused = 0;
    const request = async (i: number) => {
      // Input estimate 2,000 and max_tokens 2,000 at Sonnet 4.5: worst case $0.036.
      const worst = worstCaseCost(model, at, { inputTokens: 2000, maxTokens: 2000 });
      if (!worst.priced) throw new Error('unpriced');
      const admission = enforcer.reserve({ keyId: 'key_a', environment: 'production' }, worst.pico);
      if (!admission.ok) {
        refused += 1;
        expect(admission.refusal.message).toMatch(/monthly budget of key key_a \(\$1\) would be exceeded/);
        // A spend stop: 429 billing_error that clients must not retry, with the wait until the reset.
        expect(admission.refusal.error.status).toBe(429);
        expect(admission.refusal.error.type).toBe('billing_error');
        expect(admission.refusal.error.headers['x-should-retry']).toBe('false');
        expect(Number(admission.refusal.error.headers['retry-after'])).toBeGreaterThan(0);
        return;
      }
      admitted += 1;
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 13));
      const usage = {
        input_tokens: 2000,
        output_tokens: 1000 + ((i * 37) % 1000),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      };
      const cost = costOf(usage, model, at);
      writer.write(entry({ at: at.getTime(), model, keyId: 'key_a', usage, cost }));
      admission.reservation.settle(cost.priced ? cost.pico : 0n);
    };
    for (let wave = 0; wave < 3; wave++)
      await Promise.all(Array.from({ length: 50 }, (_, i) => request(wave * 50 + i)));
    await writer.close();
    const spent = await spendTotal(store.db, { keyId: 'key_a' });
    expect(spent).toBeLessThanOrEqual(usdToPico('1.00'));
    // $1.00 / $0.036 worst case: at least 27 fit; real costs are lower, so later waves fit more.
    expect(admitted).toBeGreaterThanOrEqual(27);
    expect(refused).toBeGreaterThan(0);
    const state = enforcer.status().find((s) => s.budget.id === 'key:key_a:monthly')!;
    expect(state.spentPico).toBe(spent);
    expect(state.reservedPico).toBe(0n);
  });

  it('seeds counters from the ledger and ignores other keys and environments', async () => {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    const now = Date.now();
    const mine = entry({ at: now, keyId: 'key_a', environment: 'staging', usage: { input_tokens: 100_000 } });
    writer.write(mine);
    const other = entry({
      at: now,
      keyId: 'key_b',
      environment: 'production',
      usage: { input_tokens: 50_000 },
    });
    writer.write(other);
    // Outside today's window: must not count for a daily budget.
    writer.write(entry({ at: windowAt('daily', now).start - 1, keyId: 'key_a', environment: 'staging' }));
    await writer.close();
    await setBudget(store.db, { scope: 'key', subject: 'key_a', window: 'daily', usd: '5' }, 'cli');
    await setBudget(
      store.db,
      { scope: 'environment', subject: 'production', window: 'total', usd: '5' },
      'cli',
    );
    await setBudget(store.db, { scope: 'global', window: 'total', usd: '0.0001' }, 'cli');
    const enforcer = new BudgetEnforcer(store.db);
    await enforcer.load();
    const spent = Object.fromEntries(enforcer.status().map((s) => [s.budget.id, s.spentPico]));
    expect(spent['key:key_a:daily']).toBe(mine.cost.priced ? mine.cost.pico : -1n);
    const all = await spendTotal(store.db);
    expect(spent['global:total']).toBe(all);
    expect(spent['environment:production:total']).toBe(other.cost.priced ? other.cost.pico : -1n);
    // The global total budget is already spent: everything is refused, and it never resets.
    const refused = enforcer.reserve({ keyId: 'key_c', environment: 'ci' }, 0n);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.refusal.resetsAt).toBeNull();
      expect(refused.refusal.message).toMatch(/total \(prepaid\) budget of the gateway .* never resets/);
    }
    expect(await deleteBudget(store.db, 'global:total')).toBe(true);
    await enforcer.load();
    expect(enforcer.reserve({ keyId: 'key_c', environment: 'ci' }, usdToPico('1')).ok).toBe(true);
    expect((await listBudgets(store.db)).map((b) => b.id)).toEqual([
      'environment:production:total',
      'key:key_a:daily',
    ]);
  });
});

describe('budget windows', () => {
  const settings = [
    {
      window: 'daily' as const,
      before: Date.UTC(2026, 9, 15, 23, 59, 59, 999),
      boundary: Date.UTC(2026, 9, 16),
    },
    {
      window: 'monthly' as const,
      before: Date.UTC(2026, 0, 31, 23, 59, 59, 999),
      boundary: Date.UTC(2026, 1, 1),
    },
  ];

  it.each(settings)(
    'resets a $window budget exactly at the UTC boundary',
    async ({ window, before, boundary }) => {
      const store = await storeKinds[0]!.open('window');
      let now = before - 10_000;
      await setBudget(store.db, { scope: 'environment', subject: 'production', window, usd: '0.10' }, 'cli');
      const enforcer = new BudgetEnforcer(store.db, { clock: () => now });
      await enforcer.load();
      const first = enforcer.reserve({ environment: 'production' }, usdToPico('0.08'));
      expect(first.ok).toBe(true);
      if (first.ok) first.reservation.settle(usdToPico('0.08'));
      now = before;
      const second = enforcer.reserve({ environment: 'production' }, usdToPico('0.05'));
      expect(second.ok).toBe(false);
      if (!second.ok) {
        expect(second.refusal.resetsAt?.getTime()).toBe(boundary);
        expect(second.refusal.message).toContain(`resets at ${new Date(boundary).toISOString()}`);
      }
      now = boundary;
      const third = enforcer.reserve({ environment: 'production' }, usdToPico('0.05'));
      expect(third.ok).toBe(true);
      expect(enforcer.status()[0]).toMatchObject({
        windowStart: boundary,
        spentPico: 0n,
        reservedPico: usdToPico('0.05'),
      });
      await store.close();
    },
  );

  it('settles a request admitted before the boundary into the old window only', async () => {
    const store = await storeKinds[0]!.open('window2');
    let now = Date.UTC(2026, 9, 15, 23, 59, 59);
    await setBudget(store.db, { scope: 'global', window: 'daily', usd: '1' }, 'cli');
    const enforcer = new BudgetEnforcer(store.db, { clock: () => now });
    await enforcer.load();
    const admission = enforcer.reserve({}, usdToPico('0.5'));
    now = Date.UTC(2026, 9, 16, 0, 0, 1);
    if (admission.ok) admission.reservation.settle(usdToPico('0.4'));
    expect(enforcer.status()[0]).toMatchObject({ spentPico: 0n, reservedPico: 0n });
    await store.close();
  });

  it('alerts once per threshold per window, and on refusal', async () => {
    const store = await storeKinds[0]!.open('thresholds');
    let now = Date.UTC(2026, 9, 15, 10);
    const events: ThresholdEvent[] = [];
    await setBudget(
      store.db,
      { scope: 'global', window: 'daily', usd: '1', thresholds: [80, 50, 100] },
      'cli',
    );
    const enforcer = new BudgetEnforcer(store.db, { clock: () => now, onThreshold: (e) => events.push(e) });
    await enforcer.load();
    const spend = (usd: string) => {
      const a = enforcer.reserve({}, usdToPico(usd));
      if (a.ok) a.reservation.settle(usdToPico(usd));
      return a.ok;
    };
    spend('0.30');
    expect(events).toHaveLength(0);
    spend('0.25');
    spend('0.01');
    expect(events.map((e) => e.threshold)).toEqual([50]);
    spend('0.30');
    expect(events.map((e) => e.threshold)).toEqual([50, 80]);
    expect(spend('0.30')).toBe(false);
    expect(events.map((e) => [e.threshold, e.refused])).toEqual([
      [50, false],
      [80, false],
      [100, true],
    ]);
    expect(spend('0.30')).toBe(false);
    expect(events).toHaveLength(3);
    now = Date.UTC(2026, 9, 16, 1);
    spend('0.60');
    expect(events.map((e) => e.threshold)).toEqual([50, 80, 100, 50]);
    expect(events[3]!.windowStart).toBe(Date.UTC(2026, 9, 16));
    await store.close();
  });
});

describe('budget changes', () => {
  it('alerts "exhausted" once even when 100 is not among the thresholds', async () => {
    const store = await storeKinds[0]!.open('exhausted');
    const events: ThresholdEvent[] = [];
    await setBudget(store.db, { scope: 'global', window: 'total', usd: '1', thresholds: [50, 80] }, 'cli');
    const enforcer = new BudgetEnforcer(store.db, { onThreshold: (e) => events.push(e) });
    await enforcer.load();
    for (const usd of ['0.55', '0.30', '0.30', '0.30']) {
      const a = enforcer.reserve({}, usdToPico(usd));
      if (a.ok) a.reservation.settle(usdToPico(usd));
    }
    expect(events.map((e) => [e.threshold, e.refused])).toEqual([
      [50, false],
      [80, false],
      [100, true],
    ]);
    await store.close();
  });

  it('a budget set at or below what is spent is exhausted when loaded: one alert, the next request refused', async () => {
    const store = await storeKinds[0]!.open('below');
    const writer = new LedgerWriter(store.db);
    writer.write(entry({ keyId: 'key_a', usage: { input_tokens: 1_000_000, output_tokens: 0 } }));
    await writer.close();
    const events: ThresholdEvent[] = [];
    const enforcer = new BudgetEnforcer(store.db, { onThreshold: (e) => events.push(e) });
    await enforcer.load();
    await setBudget(store.db, { scope: 'key', subject: 'key_a', window: 'total', usd: '0.01' }, 'api');
    await enforcer.load();
    expect(events.map((e) => [e.threshold, e.refused])).toEqual([[100, true]]);
    expect(enforcer.reserve({ keyId: 'key_a' }, 0n).ok).toBe(false);
    await store.close();
  });

  it('a new limit starts its alerts afresh, a repeated one does not', async () => {
    const store = await storeKinds[0]!.open('afresh');
    const budget = { scope: 'global', window: 'total', usd: '1' } as const;
    await setBudget(store.db, budget, 'cli');
    const claim = () =>
      store.db
        .insertInto('budget_alerts')
        .values({ budget_id: 'global:total', window_start: 0, threshold: 50, sent_at: 1 })
        .execute();
    const sent = async () => (await store.db.selectFrom('budget_alerts').selectAll().execute()).length;
    await claim();
    await setBudget(store.db, budget, 'config');
    expect(await sent()).toBe(1);
    const changed = await setBudget(store.db, { ...budget, usd: '2' }, 'cli');
    expect(await sent()).toBe(0);
    expect(changed.change).toMatchObject({ kind: 'budget', subject: 'global:total' });
    await store.close();
  });

  it('names a key budget by the key', async () => {
    const store = await storeKinds[0]!.open('named');
    await store.db
      .insertInto('virtual_keys')
      .values({
        id: 'key_a',
        name: 'prod-backend-v1',
        environment: 'production',
        key_hash: 'h',
        hint: 'sk-sluice-…abcd',
        created_at: 0,
        allow_auto: 1,
      })
      .execute();
    await setBudget(store.db, { scope: 'key', subject: 'key_a', window: 'daily', usd: '5' }, 'cli');
    const [budget] = await listBudgets(store.db);
    expect(budget).toMatchObject({ subject: 'key_a', subjectName: 'prod-backend-v1' });
    const enforcer = new BudgetEnforcer(store.db);
    await enforcer.load();
    const refused = enforcer.reserve({ keyId: 'key_a' }, usdToPico('6'));
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.refusal.message).toMatch(
        /^daily budget of key prod-backend-v1 \(\$5\) would be exceeded/,
      );
      expect(refused.refusal.error.headers).toMatchObject({
        'x-sluice-budget': 'key:key_a:daily',
        'x-should-retry': 'false',
      });
    }
    await store.close();
  });
});
