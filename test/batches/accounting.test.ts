import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { costOf } from '../../src/catalog/cost.js';
import { formatUsd } from '../../src/catalog/money.js';
import { run } from '../../src/cli/index.js';
import { ManualClock, type Simulator, startSimulator } from '../../src/simulator/index.js';
import { createPostgresDatabase } from '../helpers/services.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';
import { eventually, startBatchGateway, type TestGateway } from './helpers.js';

const MODEL = 'claude-sonnet-5-5';
const PROCESSING_MS = 10 * 60_000;
const CANCEL_MS = 30_000;

interface LedgerRow {
  request_id: string;
  at: number;
  key_id: string;
  model: string;
  status: number;
  batch: number;
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  cost_pico: number;
}

async function simulatorAt(): Promise<{ simulator: Simulator; clock: ManualClock }> {
  // Batches move only when the test moves this clock, so every run processes the same requests.
  const clock = new ManualClock(Date.parse('2026-11-27T12:00:00Z'));
  const simulator = await startSimulator({
    apiKeys: [UPSTREAM_KEY],
    clock,
    seed: 7,
    batches: { processingMs: PROCESSING_MS, cancelMs: CANCEL_MS },
  });
  return { simulator, clock };
}

const requests = (batch: number) =>
  Array.from({ length: 100 }, (_, i) => ({
    custom_id: `b${batch}-r${i}`,
    params: {
      model: MODEL,
      max_tokens: 40 + (i % 7) * 10,
      messages: [
        {
          role: 'user' as const,
          content: `Batch ${batch}, request ${i}: ${'describe the weather in a few words '.repeat(1 + (i % 5))}`,
        },
      ],
    },
  }));

/** Every 10th request processed from now on answered 500 by the simulator (its result `errored`). */
function faultEveryTenth(simulator: Simulator, count: number): void {
  simulator.batchFaults.script(
    Array.from({ length: count }, (_, i) =>
      i % 10 === 3 ? { status: 500 } : { kind: 'delay' as const, ms: 0 },
    ),
  );
}

async function recorded(stack: TestGateway, ids: string[]): Promise<void> {
  await eventually(async () => {
    const rows = await stack.gateway.store.db
      .selectFrom('message_batches')
      .select('state')
      .where('id', 'in', ids)
      .execute();
    return rows.length === ids.length && rows.every((r) => r.state === 'recorded') ? true : undefined;
  });
}

async function batchRows(stack: TestGateway): Promise<LedgerRow[]> {
  return (await stack.gateway.store.db
    .selectFrom('ledger')
    .selectAll()
    .where('batch', '=', 1)
    .orderBy('request_id')
    .execute()) as LedgerRow[];
}

/**
 * Three batches of 100 requests: two run to the end with 10 errored each, the third is canceled
 * half-way (49 succeeded, 6 errored, 45 canceled). The client never fetches a result.
 */
async function threeBatches(databaseUrl: string) {
  const { simulator, clock } = await simulatorAt();
  const stack = await startBatchGateway(simulator, databaseUrl);
  try {
    const { key } = await stack.gateway.keys.create({
      name: 'prod-batch-accounting',
      environment: 'production',
    });
    const sdk = stack.sdk(key);
    const ids: string[] = [];
    for (const b of [0, 1, 2]) {
      faultEveryTenth(simulator, 100);
      const batch = await sdk.messages.batches.create({ requests: requests(b) });
      ids.push(batch.id);
      if (b < 2) {
        clock.advance(PROCESSING_MS);
        expect((await sdk.messages.batches.retrieve(batch.id)).request_counts).toMatchObject({
          succeeded: 90,
          errored: 10,
        });
      } else {
        clock.advance(PROCESSING_MS / 2);
        expect((await sdk.messages.batches.retrieve(batch.id)).request_counts.processing).toBe(50);
        await sdk.messages.batches.cancel(batch.id);
        clock.advance(CANCEL_MS);
        expect((await sdk.messages.batches.retrieve(batch.id)).request_counts).toEqual({
          processing: 0,
          // Requests go on being processed while the batch is canceling (30 s: 5 more requests).
          succeeded: 49,
          errored: 6,
          canceled: 45,
          expired: 0,
        });
      }
    }
    await recorded(stack, ids);
    const rows = await batchRows(stack);
    const totals = await stack.gateway.store.db
      .selectFrom('message_batches')
      .select(['id', 'succeeded', 'errored', 'canceled', 'cost_pico', 'live_cost_pico'])
      .orderBy('created_at')
      .execute();
    return { rows, totals, key: (await stack.gateway.keys.list())[0]!.id };
  } finally {
    await stack.close();
    await simulator.close();
  }
}

function liveCostOf(row: LedgerRow): bigint {
  const usage = {
    input_tokens: row.input_tokens,
    output_tokens: row.output_tokens,
    cache_creation_input_tokens: row.cache_write_5m_tokens + row.cache_write_1h_tokens,
    cache_read_input_tokens: row.cache_read_tokens,
    cache_creation: {
      ephemeral_5m_input_tokens: row.cache_write_5m_tokens,
      ephemeral_1h_input_tokens: row.cache_write_1h_tokens,
    },
  };
  return costOf(usage, row.model, new Date(row.at), { catalog: defaultCatalog() }).pico;
}

describe('batch accounting', () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it('records one row per succeeded request at half the live price, the same on SQLite and PostgreSQL', async () => {
    const sqlite = await threeBatches('sqlite::memory:');
    const postgres = await createPostgresDatabase('batches');
    drops.push(postgres.drop);
    const pg = await threeBatches(postgres.url);

    for (const run of [sqlite, pg]) {
      expect(run.rows).toHaveLength(90 + 90 + 49);
      expect(new Set(run.rows.map((r) => r.request_id)).size).toBe(run.rows.length);
      expect(run.totals.map((t) => [t.succeeded, t.errored, t.canceled])).toEqual([
        [90, 10, 0],
        [90, 10, 0],
        [49, 6, 45],
      ]);
      let cost = 0n;
      let live = 0n;
      for (const row of run.rows) {
        expect(row).toMatchObject({ status: 200, batch: 1, model: MODEL });
        expect(row.output_tokens).toBeGreaterThan(0);
        // Exactly half of what the same usage costs live, to the pico-dollar.
        expect(BigInt(row.cost_pico) * 2n).toBe(liveCostOf(row));
        cost += BigInt(row.cost_pico);
        live += liveCostOf(row);
      }
      expect(run.totals.reduce((sum, t) => sum + BigInt(t.cost_pico!), 0n)).toBe(cost);
      expect(run.totals.reduce((sum, t) => sum + BigInt(t.live_cost_pico!), 0n)).toBe(live);
    }
    const costs = (run: typeof sqlite) => run.rows.map((r) => Number(r.cost_pico)).sort((a, b) => a - b);
    expect(costs(pg)).toEqual(costs(sqlite));
    const sum = (run: typeof sqlite) => run.rows.reduce((s, r) => s + BigInt(r.cost_pico), 0n);
    expect(sum(pg)).toBe(sum(sqlite));
    console.log(
      `batch accounting: ${sqlite.rows.length} rows, $${(Number(sum(sqlite)) / 1e12).toFixed(6)} on SQLite and PostgreSQL`,
    );
  });

  it('records a batch that ends while the gateway is down, once it is back', async () => {
    const { simulator, clock } = await simulatorAt();
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-batch-restart-')), 'sluice.db');
    const first = await startBatchGateway(simulator, `sqlite:${file}`);
    const { key } = await first.gateway.keys.create({
      name: 'prod-batch-restart',
      environment: 'production',
    });
    const batch = await first.sdk(key).messages.batches.create({ requests: requests(0) });
    await first.close();
    clock.advance(PROCESSING_MS);
    const second = await startBatchGateway(simulator, `sqlite:${file}`);
    try {
      await recorded(second, [batch.id]);
      const rows = await batchRows(second);
      expect(rows).toHaveLength(100);
      const cost = rows.reduce((sum, r) => sum + BigInt(r.cost_pico), 0n);
      // `sluice spend` shows the batch spend and what the same usage would have cost live.
      const saved = { env: process.env.SLUICE_DATABASE_URL, cwd: process.cwd() };
      const out: string[] = [];
      const write = vi
        .spyOn(process.stdout, 'write')
        .mockImplementation((chunk) => !!out.push(String(chunk)));
      try {
        process.env.SLUICE_DATABASE_URL = `sqlite:${file}`;
        process.chdir(dirname(file));
        await run(['node', 'sluice', 'spend', '--since', '30d']);
        await run(['node', 'sluice', 'spend', '--since', '30d', '--json']);
      } finally {
        write.mockRestore();
        process.chdir(saved.cwd);
        if (saved.env === undefined) delete process.env.SLUICE_DATABASE_URL;
        else process.env.SLUICE_DATABASE_URL = saved.env;
      }
      const [text, json] = [out.slice(0, -1).join(''), JSON.parse(out.at(-1)!)];
      const usd = (pico: bigint) => formatUsd(pico, 6);
      expect(json.batches).toEqual({
        batches: 1,
        succeeded_requests: 100,
        cost_usd: usd(cost),
        live_cost_usd: usd(cost * 2n),
        saved_usd: usd(cost),
        in_progress: 0,
      });
      expect(text).toContain(
        `Message Batches: 100 requests in 1 batches cost $${usd(cost)} (in the costs above); live they would have cost $${usd(cost * 2n)}, $${usd(cost)} more`,
      );
    } finally {
      await second.close();
      await simulator.close();
    }
  });

  it('two instances on one database record each result once', async () => {
    const { simulator, clock } = await simulatorAt();
    const postgres = await createPostgresDatabase('batches2');
    drops.push(postgres.drop);
    const yaml = { batches: { pollMs: 10, leaseMs: 5000 } };
    const one = await startBatchGateway(simulator, postgres.url, yaml);
    const two = await startBatchGateway(simulator, postgres.url, yaml);
    try {
      const { key } = await one.gateway.keys.create({ name: 'prod-batch-shared', environment: 'production' });
      const ids: string[] = [];
      for (const b of [0, 1, 2, 3]) {
        const sdk = (b % 2 === 0 ? one : two).sdk(key);
        ids.push((await sdk.messages.batches.create({ requests: requests(b) })).id);
      }
      clock.advance(PROCESSING_MS);
      await recorded(one, ids);
      const rows = await batchRows(one);
      expect(rows).toHaveLength(400);
      expect(new Set(rows.map((r) => r.request_id)).size).toBe(400);
      const recordings = [...one.logs, ...two.logs].filter((line) => line.includes('"batch_recorded"'));
      expect(recordings).toHaveLength(4);
      console.log(
        `two instances: batches recorded ${one.logs.filter((l) => l.includes('"batch_recorded"')).length} by one, ${two.logs.filter((l) => l.includes('"batch_recorded"')).length} by the other`,
      );
    } finally {
      await one.close();
      await two.close();
      await simulator.close();
    }
  });

  it('reserves the worst case at batch prices against budgets, refuses past them, and settles at the cost', async () => {
    const { simulator, clock } = await simulatorAt();
    // 100 requests of max_tokens 1,000 on Sonnet 5.5 reach $0.50 at batch prices ($5 per million output).
    const stack = await startBatchGateway(simulator, 'sqlite::memory:', {
      batches: { pollMs: 50, leaseMs: 5000 },
      budgets: { limits: [{ scope: 'global', window: 'total', usd: '0.8' }] },
    });
    const status = async () => {
      const response = await fetch(`${stack.gateway.url}/admin/budgets/status`, {
        headers: { 'x-sluice-admin-token': 'admin-token-for-tests-0123456789' },
      });
      const [budget] = ((await response.json()) as { data: Array<Record<string, string>> }).data;
      return { reserved: BigInt(budget!.reserved_pico!), spent: BigInt(budget!.spent_pico!) };
    };
    try {
      const { key } = await stack.gateway.keys.create({
        name: 'prod-batch-budget',
        environment: 'production',
      });
      const sdk = stack.sdk(key);
      const big = (b: number) =>
        requests(b).map((r) => ({ ...r, params: { ...r.params, max_tokens: 1000 } }));
      const batch = await sdk.messages.batches.create({ requests: big(0) });
      const held = await status();
      expect(held.reserved).toBeGreaterThanOrEqual(500_000_000_000n); // output alone: $0.50
      expect(held.reserved).toBeLessThan(520_000_000_000n); // input at its byte bound: a few cents
      // A second batch would pass the $0.80 budget at its worst case: refused, nothing sent.
      simulator.resetCounters();
      await expect(sdk.messages.batches.create({ requests: big(1) })).rejects.toMatchObject({
        status: 429,
        error: { error: { message: expect.stringContaining('would be exceeded') } },
      });
      expect(simulator.counters().byPath['POST /v1/messages/batches']).toBeUndefined();
      clock.advance(PROCESSING_MS);
      await recorded(stack, [batch.id]);
      const cost = (await batchRows(stack)).reduce((sum, r) => sum + BigInt(r.cost_pico), 0n);
      const settled = await eventually(async () => {
        const now = await status();
        return now.reserved === 0n ? now : undefined;
      });
      expect(settled.spent).toBe(cost);
      console.log(`budget: reserved ${held.reserved} pico for the batch, settled at its cost ${cost} pico`);
    } finally {
      await stack.close();
      await simulator.close();
    }
  });
});
