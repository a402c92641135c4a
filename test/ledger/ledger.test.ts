import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { costOf } from '../../src/catalog/cost.js';
import { usdToPico } from '../../src/catalog/money.js';
import { spendTotal } from '../../src/ledger/queries.js';
import { pruneLedger } from '../../src/ledger/rollup.js';
import { type MoneyTables, moneyDb } from '../../src/ledger/tables.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Store } from '../../src/store/database.js';
import { up as createLedgerTablesAsFirstWritten } from '../../src/store/migrations/002_ledger.js';
import { up as addBillingColumns } from '../../src/store/migrations/004_billing_from_usage.js';
import { up as addClientColumns } from '../../src/store/migrations/009_ledger_client.js';
import { entry, storeKinds } from './stores.js';

const day = (d: number, h = 12) => Date.UTC(2026, 9, d, h, 0, 0);

describe.each(storeKinds)('ledger on $kind', ({ kind, open }) => {
  let store: Store;
  beforeEach(async () => {
    store = await open(`ledger_${kind}`);
  });
  afterEach(async () => {
    await store.close();
  });

  it('stores every row written before close, in batches, with exact costs', async () => {
    const writer = new LedgerWriter(store.db, { batchSize: 100, intervalMs: 10_000 });
    let expected = 0n;
    for (let i = 0; i < 1234; i++) {
      const row = entry({
        usage: { input_tokens: 1000 + i, output_tokens: i, cache_read_input_tokens: 7 * i },
      });
      if (row.cost.priced) expected += row.cost.pico;
      writer.write(row);
    }
    await writer.close();
    const db = moneyDb(store.db);
    const count = await db
      .selectFrom('ledger')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1234);
    expect(await spendTotal(store.db)).toBe(expected);
    expect(writer.stats()).toMatchObject({ written: 1234, pending: 0, dropped: 0 });
  });

  it('keeps one row per request id and round-trips every column', async () => {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    const row = entry({
      requestId: 'req_same',
      upstreamRequestId: 'req_upstream_1',
      routeTier: 'fast',
      routeReason: 'short prompt',
      retries: 2,
      batch: true,
      geo: 'us',
      model: 'claude-opus-4-6',
      usage: {
        input_tokens: 10,
        output_tokens: 20,
        cache_creation_input_tokens: 30,
        cache_read_input_tokens: 40,
      },
    });
    writer.write(row);
    writer.write({ ...row });
    await writer.close();
    const stored = await moneyDb(store.db).selectFrom('ledger').selectAll().execute();
    expect(stored).toHaveLength(1);
    // (10×5 + 30×6.25 + 40×0.5 + 20×25) × 0.5 × 1.1 µ$ = 757.5 × 0.55 = 416.625 µ$
    expect(Number(stored[0]!.cost_pico)).toBe(Number(usdToPico('0.000416625')));
    expect(stored[0]).toMatchObject({
      request_id: 'req_same',
      upstream_request_id: 'req_upstream_1',
      key_id: 'key_a',
      environment: 'production',
      route_tier: 'fast',
      route_reason: 'short prompt',
      status: 200,
      retries: 2,
      input_tokens: 10,
      output_tokens: 20,
      cache_write_5m_tokens: 30,
      cache_read_tokens: 40,
      priced: 1,
      batch: 1,
      geo: 'us',
    });
  });

  it('records an unpriced model as unpriced with its reason, at the cost budgets counted', async () => {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    writer.write(entry({ model: 'claude-mythos-preview' }));
    await writer.close();
    const stored = await moneyDb(store.db)
      .selectFrom('ledger')
      .select(['priced', 'model', 'unpriced_reason', 'cost_pico'])
      .execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      priced: 0,
      model: 'claude-mythos-preview',
      unpriced_reason: 'no price',
    });
    expect(Number(stored[0]!.cost_pico)).toBeGreaterThan(0);
  });

  it('rolls old rows into daily totals and prunes them without changing any total', async () => {
    const writer = new LedgerWriter(store.db, { intervalMs: 10_000 });
    const rows = [
      entry({ at: day(1), keyId: 'key_a', usage: { input_tokens: 1000, cache_read_input_tokens: 5000 } }),
      entry({ at: day(1, 13), keyId: 'key_a', usage: { input_tokens: 2000 } }),
      entry({ at: day(1), keyId: 'key_b', model: 'claude-sonnet-4-5-20250929' }),
      entry({ at: day(2), keyId: 'key_b', environment: 'staging' }),
      entry({ at: day(3), keyId: 'key_a' }),
    ];
    for (const row of rows) writer.write(row);
    await writer.close();
    const before = {
      all: await spendTotal(store.db),
      keyA: await spendTotal(store.db, { keyId: 'key_a' }),
      staging: await spendTotal(store.db, { environment: 'staging' }),
      day1: await spendTotal(store.db, { from: day(1, 0), to: day(2, 0) }),
    };
    const result = await pruneLedger(store.db, { before: new Date(day(3, 5)), catalog: defaultCatalog() });
    expect(result.rowsPruned).toBe(4);
    expect(result.rollupRows).toBe(3);
    const remaining = await moneyDb(store.db).selectFrom('ledger').select('at').execute();
    expect(remaining.map((r) => Number(r.at))).toEqual([day(3)]);
    expect(await spendTotal(store.db)).toBe(before.all);
    expect(await spendTotal(store.db, { keyId: 'key_a' })).toBe(before.keyA);
    expect(await spendTotal(store.db, { environment: 'staging' })).toBe(before.staging);
    expect(await spendTotal(store.db, { from: day(1, 0), to: day(2, 0) })).toBe(before.day1);
    const daily = await moneyDb(store.db)
      .selectFrom('ledger_daily')
      .selectAll()
      .where('key_id', '=', 'key_a')
      .where('day', '=', '2026-10-01')
      .executeTakeFirstOrThrow();
    expect(Number(daily.requests)).toBe(2);
    expect(Number(daily.input_tokens)).toBe(3000);
    // 5000 cache-read tokens at Haiku 4.5: 5000 × (1.00 − 0.10) µ$
    expect(BigInt(daily.cache_savings_pico)).toBe(usdToPico('0.0045'));

    // A second prune adds to the same day instead of replacing it.
    const late = entry({ at: day(1, 20), keyId: 'key_a', usage: { input_tokens: 1 } });
    const lateWriter = new LedgerWriter(store.db, { intervalMs: 10_000 });
    lateWriter.write(late);
    await lateWriter.close();
    await pruneLedger(store.db, { before: new Date(day(3, 5)), catalog: defaultCatalog() });
    const after = late.cost.priced ? late.cost.pico : 0n;
    expect(await spendTotal(store.db, { keyId: 'key_a' })).toBe(before.keyA + after);
  });
});

describe('ledger writer when the store fails', () => {
  it('keeps rows buffered through failures and writes them once the store is back', async () => {
    const db = new Kysely<MoneyTables>({
      dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
    });
    const errors: number[] = [];
    const writer = new LedgerWriter(db, {
      intervalMs: 10_000,
      onError: (_e, pending) => errors.push(pending),
    });
    for (let i = 0; i < 10; i++) writer.write(entry());
    await expect(writer.flush()).rejects.toThrow(/no such table/);
    expect(writer.stats()).toMatchObject({ pending: 10, written: 0, failedFlushes: 1 });
    expect(errors).toEqual([10]);
    await createLedgerTables(db);
    writer.write(entry());
    await writer.close();
    const count = await db
      .selectFrom('ledger')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(11);
    await db.destroy();
  });

  it('drops the oldest rows beyond its bound instead of growing without limit', async () => {
    const db = new Kysely<MoneyTables>({
      dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
    });
    const writer = new LedgerWriter(db, { intervalMs: 10_000, batchSize: 1000, maxBuffered: 5 });
    for (let i = 0; i < 8; i++) writer.write(entry());
    expect(writer.stats()).toMatchObject({ pending: 5, dropped: 3 });
    await createLedgerTables(db);
    await writer.close();
    const count = await db
      .selectFrom('ledger')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(5);
    await db.destroy();
  });

  it('writes on its interval without being asked', async () => {
    const db = new Kysely<MoneyTables>({
      dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
    });
    await createLedgerTables(db);
    const writer = new LedgerWriter(db, { intervalMs: 20 });
    const row = entry({ usage: { input_tokens: 3 } });
    writer.write(row);
    for (let i = 0; i < 200 && writer.stats().written === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(writer.stats().written).toBe(1);
    const cost = costOf(
      { input_tokens: 3, output_tokens: 50, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      row.model,
      new Date(row.at),
    );
    expect(await spendTotal(db)).toBe(cost.priced ? cost.pico : -1n);
    await writer.close();
    await db.destroy();
  });
});

/** The ledger's table as the migrations leave it. */
// biome-ignore lint/suspicious/noExplicitAny: migrations take any schema.
async function createLedgerTables(db: Kysely<any>): Promise<void> {
  await createLedgerTablesAsFirstWritten(db);
  await addBillingColumns(db);
  await addClientColumns(db);
}
