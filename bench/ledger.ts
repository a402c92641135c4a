/**
 * Ledger write throughput on SQLite (a file, WAL) and PostgreSQL, in one run: the batched
 * LedgerWriter against one INSERT per row (the baseline), reported in rows/s and as a ratio.
 *
 *   npm run bench:ledger
 *   SLUICE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:ledger
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { costOf, tokenCounts } from '../src/catalog/cost.js';
import { type LedgerEntry, toLedgerRow } from '../src/ledger/entry.js';
import { moneyDb } from '../src/ledger/tables.js';
import { LedgerWriter } from '../src/ledger/writer.js';
import { openStore, type Store } from '../src/store/database.js';
import { createPostgresDatabase } from '../test/helpers/services.js';

const BATCHED_ROWS = Number(process.env.BENCH_ROWS ?? 50_000);
const BASELINE_ROWS = Math.max(500, Math.floor(BATCHED_ROWS / 20));

const models = ['claude-haiku-5-5', 'claude-sonnet-5-5', 'claude-opus-5-5'];
let sequence = 0;
function makeEntry(): LedgerEntry {
  sequence += 1;
  const model = models[sequence % models.length]!;
  const usage = {
    input_tokens: 200 + (sequence % 900),
    output_tokens: 50 + (sequence % 400),
    cache_creation_input_tokens: sequence % 7 === 0 ? 2048 : 0,
    cache_read_input_tokens: sequence % 3 === 0 ? 4096 : 0,
  };
  const at = Date.now();
  return {
    at,
    requestId: `req_bench_${sequence}`,
    upstreamRequestId: `req_upstream_${sequence}`,
    keyId: `key_${sequence % 20}`,
    environment: sequence % 2 ? 'production' : 'staging',
    requestedModel: 'auto',
    model,
    routeTier: 'fast',
    status: 200,
    upstreamStatus: 200,
    retries: 0,
    latencyMs: 420,
    ttftMs: 90,
    tokens: tokenCounts(usage),
    cost: costOf(usage, model, new Date(at)),
  };
}

async function oneInsertPerRow(store: Store, rows: number): Promise<number> {
  const db = moneyDb(store.db);
  const started = performance.now();
  for (let i = 0; i < rows; i++) await db.insertInto('ledger').values(toLedgerRow(makeEntry())).execute();
  return (performance.now() - started) / 1000;
}

async function batchedWriter(store: Store, rows: number): Promise<number> {
  const writer = new LedgerWriter(store.db, {
    batchSize: 500,
    intervalMs: 250,
    insertRows: store.insertRows,
  });
  const started = performance.now();
  for (let i = 0; i < rows; i++) {
    writer.write(makeEntry());
    // Hand the event loop back now and then, as a gateway between requests would.
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  await writer.close();
  return (performance.now() - started) / 1000;
}

interface Result {
  store: string;
  mode: string;
  rows: number;
  seconds: number;
}

async function measure(
  label: string,
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
): Promise<Result[]> {
  const { store, cleanup } = await open();
  try {
    const baseline = await oneInsertPerRow(store, BASELINE_ROWS);
    const batched = await batchedWriter(store, BATCHED_ROWS);
    return [
      { store: label, mode: 'one INSERT per row (baseline)', rows: BASELINE_ROWS, seconds: baseline },
      { store: label, mode: 'LedgerWriter, batches of 500', rows: BATCHED_ROWS, seconds: batched },
    ];
  } finally {
    await store.close();
    await cleanup();
  }
}

async function openSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const store = await openStore(`sqlite:${join(dir, 'ledger.db')}`);
  return { store, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function openPostgres() {
  const database = await createPostgresDatabase('bench');
  return { store: await openStore(database.url), cleanup: database.drop };
}

const results: Result[] = [];
results.push(...(await measure('sqlite', openSqlite)));
try {
  results.push(...(await measure('postgres', openPostgres)));
} catch (error) {
  process.stderr.write(`postgres skipped: ${(error as Error).message}\n`);
}

const rate = (r: Result) => r.rows / r.seconds;
console.log('store     mode                            rows     seconds   rows/s     vs baseline');
for (const r of results) {
  const baseline = results.find((b) => b.store === r.store && b.mode.includes('baseline'))!;
  console.log(
    `${r.store.padEnd(9)} ${r.mode.padEnd(31)} ${String(r.rows).padStart(7)}  ${r.seconds.toFixed(2).padStart(7)}  ${Math.round(rate(r)).toLocaleString('en-US').padStart(9)}  ${(rate(r) / rate(baseline)).toFixed(1).padStart(6)}×`,
  );
}
