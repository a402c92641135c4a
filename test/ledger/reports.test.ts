import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { moneyAdmin } from '../../src/ledger/admin.js';
import { routingReport, spendReport, tierReport } from '../../src/ledger/reports.js';
import { pruneLedger } from '../../src/ledger/rollup.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Store } from '../../src/store/database.js';
import { entry, storeKinds } from './stores.js';

const catalog = defaultCatalog();
const now = Date.UTC(2026, 9, 20, 12);
const daysAgo = (d: number, minute = 0) => now - d * 86_400_000 + minute * 60_000;
const haiku = 'claude-haiku-4-5-20251001';
const sonnet = 'claude-sonnet-4-5-20250929';

describe.each(storeKinds)('reports on $kind', ({ kind, open }) => {
  let store: Store;
  beforeEach(async () => {
    store = await open(`reports_${kind}`);
  });
  afterEach(async () => {
    await store.close();
  });

  async function write(...entries: ReturnType<typeof entry>[]) {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    for (const e of entries) writer.write(e);
    await writer.close();
  }

  it('groups by client session and by client from raw rows; pruned rows count under no session', async () => {
    const claude = {
      client: 'claude-cli',
      clientVersion: '2.1.332',
      clientEntrypoint: 'sdk-cli',
      agentId: null,
    };
    await write(
      entry({
        at: daysAgo(1),
        attribution: { ...claude, sessionId: 'sess-a' },
        usage: { input_tokens: 1000 },
      }),
      entry({
        at: daysAgo(1, 5),
        attribution: { ...claude, sessionId: 'sess-a' },
        usage: { input_tokens: 3000 },
      }),
      entry({
        at: daysAgo(2),
        attribution: { ...claude, clientEntrypoint: 'sdk-ts', sessionId: 'sess-b' },
        usage: { input_tokens: 500 },
      }),
      entry({ at: daysAgo(2, 5), usage: { input_tokens: 200 } }),
      entry({
        at: daysAgo(40),
        attribution: { ...claude, sessionId: 'sess-old' },
        usage: { input_tokens: 7 },
      }),
    );
    await pruneLedger(store.db, { before: new Date(daysAgo(30)), catalog });
    const bySession = await spendReport(store.db, {
      since: new Date(daysAgo(60)),
      by: 'session',
      catalog,
      now,
    });
    const sessions = Object.fromEntries(bySession.groups.map((g) => [g.group, g]));
    expect(sessions['sess-a']).toMatchObject({ requests: 2, input_tokens: 4000 });
    expect(sessions['sess-b']).toMatchObject({ requests: 1, input_tokens: 500 });
    // The row without a session and the pruned one (its session is not kept in the rollup).
    expect(sessions['']).toMatchObject({ requests: 2, input_tokens: 207 });
    expect(bySession.total.requests).toBe(5);
    const byClient = await spendReport(store.db, { since: new Date(daysAgo(7)), by: 'client', catalog, now });
    expect(Object.fromEntries(byClient.groups.map((g) => [g.group, g.requests]))).toEqual({
      'claude-cli 2.1.332 (sdk-cli)': 2,
      'claude-cli 2.1.332 (sdk-ts)': 1,
      '': 1,
    });
  });

  it('totals spend, tokens and cache savings, by dimension, across pruned days', async () => {
    await write(
      // Haiku: 1000 input ($0.001) + 10,000 cache read ($0.001) + 100 output ($0.0005); saved 10,000 × $0.90/M = $0.009
      entry({
        at: daysAgo(10),
        model: haiku,
        keyId: 'key_a',
        environment: 'production',
        usage: { input_tokens: 1000, cache_read_input_tokens: 10_000, output_tokens: 100 },
      }),
      // Sonnet: 2000 input ($0.006) + 200 output ($0.003)
      entry({
        at: daysAgo(2),
        model: sonnet,
        keyId: 'key_b',
        environment: 'staging',
        usage: { input_tokens: 2000, output_tokens: 200 },
      }),
      entry({
        at: daysAgo(1),
        model: 'claude-mythos-preview',
        keyId: 'key_b',
        environment: 'staging',
        usage: { input_tokens: 5 },
      }),
      entry({
        at: daysAgo(40),
        model: haiku,
        keyId: 'key_a',
        usage: { input_tokens: 1_000_000, output_tokens: 0 },
      }),
    );
    await pruneLedger(store.db, { before: new Date(daysAgo(5)), catalog });
    const report = await spendReport(store.db, { since: new Date(daysAgo(30)), catalog, now, by: 'model' });
    expect(report.total).toEqual({
      requests: 3,
      unpriced_requests: 1,
      input_tokens: 3005,
      output_tokens: 350,
      cache_write_5m_tokens: 0,
      cache_write_1h_tokens: 0,
      cache_read_tokens: 10_000,
      // The unpriced row counts at its worst case (Mythos at $10/$50): 5 × 10 + 50 × 50 µ$.
      cost_usd: '0.014050',
      cache_savings_usd: '0.009000',
    });
    expect(report.groups.map((g) => [g.group, g.cost_usd, g.requests])).toEqual([
      [sonnet, '0.009000', 1],
      ['claude-mythos-preview', '0.002550', 1],
      [haiku, '0.002500', 1],
    ]);
    const byEnv = await spendReport(store.db, { since: new Date(daysAgo(30)), catalog, now, by: 'env' });
    expect(Object.fromEntries(byEnv.groups.map((g) => [g.group, g.cost_usd]))).toEqual({
      staging: '0.011550',
      production: '0.002500',
    });
    const byDay = await spendReport(store.db, { since: new Date(daysAgo(30)), catalog, now, by: 'day' });
    expect(byDay.groups.map((g) => g.group)).toEqual(['2026-10-10', '2026-10-18', '2026-10-19']);
    const all = await spendReport(store.db, { since: new Date(daysAgo(100)), catalog, now, by: 'key' });
    expect(all.total.cost_usd).toBe('1.014050');
    expect(all.groups.map((g) => g.group)).toEqual(['key_a', 'key_b']);
  });

  it('compares routed requests with the critical model', async () => {
    await write(
      entry({
        at: daysAgo(1),
        model: haiku,
        routeTier: 'fast',
        usage: { input_tokens: 1_000_000, output_tokens: 0 },
      }),
      entry({
        at: daysAgo(1),
        model: haiku,
        routeTier: 'fast',
        usage: { input_tokens: 0, output_tokens: 100_000 },
      }),
      entry({
        at: daysAgo(1),
        model: sonnet,
        routeTier: 'reasoning',
        usage: { input_tokens: 1_000_000, output_tokens: 0 },
      }),
      entry({ at: daysAgo(1), model: sonnet, usage: { input_tokens: 1_000_000, output_tokens: 0 } }),
    );
    const report = await routingReport(store.db, {
      since: new Date(daysAgo(30)),
      catalog,
      baselineModel: 'claude-opus-4-1',
    });
    // actual: $1 + $0.50 + $6 (1M input on Sonnet 4.5 is long context); on Opus 4.1: $15 + $7.50 + $15
    expect(report).toMatchObject({
      baseline_model: 'claude-opus-4-1-20250805',
      routed_requests: 3,
      unpriced_requests: 0,
      actual_usd: '7.500000',
      baseline_usd: '37.500000',
      saved_usd: '30.000000',
      saved_percent: 80,
    });
    expect(report.tiers).toEqual([
      { tier: 'fast', requests: 2, actual_usd: '1.500000', baseline_usd: '22.500000' },
      { tier: 'reasoning', requests: 1, actual_usd: '6.000000', baseline_usd: '15.000000' },
    ]);
  });

  it('finds the busiest minute per model class and warns near the tier limits', async () => {
    const rows = [];
    // One busy minute for Sonnet: 45 requests, 27,000 input (incl. cache writes) and 2,000 output tokens.
    for (let i = 0; i < 45; i++) {
      rows.push(
        entry({
          at: daysAgo(3, 0) + i * 1000,
          model: sonnet,
          usage: {
            input_tokens: 500,
            cache_creation_input_tokens: 100,
            cache_read_input_tokens: 5000,
            output_tokens: i < 20 ? 100 : 0,
          },
        }),
      );
    }
    rows.push(entry({ at: daysAgo(3, 5), model: haiku, usage: { input_tokens: 1000, output_tokens: 10 } }));
    rows.push(
      entry({
        at: daysAgo(3, 5),
        model: haiku,
        usage: { input_tokens: 1000, output_tokens: 10 },
        upstreamStatus: null,
      }),
    );
    await write(...rows);
    const report = await tierReport(store.db, { catalog, tier: 'evaluation', now });
    const sonnetPool = report.pools.find((c) => c.pool === 'sonnet-4')!;
    expect(sonnetPool.limits).toEqual({ rpm: 50, itpm: 30000, otpm: 8000 });
    expect(sonnetPool.peak).toEqual({ rpm: 45, itpm: 27_000, otpm: 2000 });
    expect(sonnetPool.headroom_percent).toEqual({ rpm: 10, itpm: 10, otpm: 75 });
    expect(report.pools.find((c) => c.pool === 'haiku-4-5')!.peak).toEqual({ rpm: 1, itpm: 1000, otpm: 10 });
    expect(report.warnings).toContain(
      'tier stagnation: sonnet-4 requests per minute peaked at 45 of 50 (90%) on evaluation',
    );
    expect(report.warnings).toContain(
      'tier stagnation: sonnet-4 input tokens per minute peaked at 27,000 of 30,000 (90%) on evaluation',
    );
    expect(report.next_tier).toMatchObject({ name: 'start' });
    expect(report.warnings.at(-1)).toMatch(/start is assigned by usage history/);
    const quiet = await tierReport(store.db, { catalog, tier: 'start', now });
    expect(quiet.warnings).toEqual([]);
  });

  it('serves budgets and reports to the admin API', async () => {
    const admin = moneyAdmin({ db: store.db, catalog, clock: () => now });
    const created = await admin.setBudget({
      scope: 'environment',
      subject: 'production',
      window: 'daily',
      usd: 2.5,
    });
    expect(created).toMatchObject({
      id: 'environment:production:daily',
      limit_usd: '2.500000',
      resets_at: '2026-10-21T00:00:00.000Z',
    });
    await write(
      entry({
        at: now - 1000,
        environment: 'production',
        model: haiku,
        usage: { input_tokens: 1_000_000, output_tokens: 0 },
      }),
    );
    const listed = await admin.listBudgets();
    expect(listed.data).toEqual([
      expect.objectContaining({ id: 'environment:production:daily', spent_usd: '1.000000' }),
    ]);
    await expect(
      admin.setBudget({ scope: 'global', subject: 'x', window: 'daily', usd: '1' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      admin.setBudget({ scope: 'key', subject: 'k', window: 'weekly', usd: '1' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(admin.deleteBudget('nope')).rejects.toMatchObject({ status: 404 });
    expect(await admin.deleteBudget('environment:production:daily')).toEqual({
      id: 'environment:production:daily',
      deleted: true,
    });
    expect((await admin.spend({ since: '7d', by: 'env' })).total.cost_usd).toBe('1.000000');
    await expect(admin.spend({ since: 'forever' })).rejects.toMatchObject({ status: 400 });
  });
});
