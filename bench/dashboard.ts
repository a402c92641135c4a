/**
 * What an open dashboard costs the gateway: the time its reads take on a ledger of 10,000 and of
 * 100,000 rows in the last 24 hours, against the same reads on an empty ledger in the same run, and
 * the share of the gateway's main thread they take at the page's polling pace (SQLite reads run on
 * that thread, so this share is time taken from requests).
 * Run with `npm run bench:dashboard`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/server/gateway.js';
import { createLogger } from '../src/server/logger.js';
import { gatewayPlugins } from '../src/server/plugins.js';
import { fmt, percentile } from './support/load.js';

const TOKEN = 'bench-admin-token-0123456789abcdef';
const POLL_MS = 5000;
const REFRESHES = Number(process.env.BENCH_REFRESHES ?? 20);
/** The reads of one refresh of the page (range 24 hours, spend by model): every 5 s at most. */
const FAST_READS = [
  'spend?since=24h&by=key',
  'spend/series?since=24h&by=model',
  'budgets',
  'requests/activity?since=24h',
  'limits',
  'keys',
  'budgets',
  'requests/recent?limit=50',
];
/** What the page reads besides, at most every 30 s. */
const SLOW_READS = [
  'spend?since=24h&by=model',
  'spend?since=24h&by=env',
  'tier',
  'spend/routing?since=24h',
  'batches',
  'keys/audit',
];

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-dashboard-'));
  const loaded = loadConfig({
    cwd: '/nonexistent',
    env: {
      ANTHROPIC_AUTH_TOKEN: 'sk-ant-api03-bench-only',
      SLUICE_UPSTREAM_URL: 'http://127.0.0.1:9',
      SLUICE_DATABASE_URL: `sqlite:${join(dir, 'sluice.db')}`,
      SLUICE_ADMIN_TOKEN: TOKEN,
    },
  });
  loaded.config.server.port = 0;
  const gateway = await startGateway({
    loaded,
    logger: createLogger('warn', pino.destination('/dev/null')),
    plugins: (core) => gatewayPlugins(core),
  });
  const keys: string[] = [];
  for (let i = 0; i < 20; i++)
    keys.push((await gateway.keys.create({ name: `prod-bench-k${i}`, environment: 'production' })).view.id);
  const models = ['claude-haiku-4-5-20251001', 'claude-sonnet-4-6', 'claude-opus-4-6', 'claude-haiku-5-5'];
  let inserted = 0;
  const fill = async (rows: number) => {
    const now = Date.now();
    for (let start = 0; start < rows; start += 1000) {
      const batch = [];
      for (let i = start; i < Math.min(rows, start + 1000); i++, inserted++) {
        const status = i % 50 === 0 ? 429 : 200;
        batch.push({
          request_id: `req_bench_${inserted}`,
          at: now - Math.floor(((inserted * 7919) % 86_000) * 1000),
          upstream_request_id: null,
          key_id: keys[inserted % keys.length],
          environment: 'production',
          requested_model: models[inserted % models.length],
          model: models[inserted % models.length],
          route_tier: inserted % 3 === 0 ? 'fast' : null,
          route_reason: null,
          status,
          upstream_status: status,
          retries: status === 429 ? 3 : 0,
          latency_ms: 400,
          ttft_ms: 200,
          input_tokens: 1200,
          output_tokens: 300,
          cache_write_5m_tokens: 0,
          cache_write_1h_tokens: 0,
          cache_read_tokens: 500,
          cost_pico: 3_000_000_000,
          priced: 1,
          batch: 0,
          geo: null,
          speed: null,
          web_search_requests: 0,
          web_fetch_requests: 0,
          code_execution_requests: 0,
          unpriced_reason: null,
        });
      }
      await gateway.store.db.insertInto('ledger').values(batch).execute();
    }
  };
  const refresh = async (reads: string[]) => {
    const started = performance.now();
    await Promise.all(
      reads.map(async (path) => {
        const response = await request(`${gateway.url}/admin/${path}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        await response.body.dump();
      }),
    );
    return performance.now() - started;
  };
  const measure = async (reads: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < REFRESHES; i++) times.push(await refresh(reads));
    return times.sort((a, b) => a - b);
  };
  try {
    const results: Record<string, { fast: number; slow: number; share: number }> = {};
    for (const rows of [0, 10_000, 100_000]) {
      await fill(rows - inserted);
      await refresh([...FAST_READS, ...SLOW_READS]); // warm
      const fast = percentile(await measure(FAST_READS), 0.5);
      const slow = percentile(await measure(SLOW_READS), 0.5);
      // The page waits max(5 s, 10 × the fast reads' last time) between refreshes, and runs the
      // slow reads at most every max(30 s, 10 × their last time).
      const interval = Math.max(POLL_MS, 10 * fast);
      const share = fast / interval + slow / Math.max(30_000, 10 * slow);
      results[rows] = { fast, slow, share };
      console.log(
        `ledger ${String(rows).padStart(7)} rows in 24 h: fast reads p50 ${fmt(fast, 1)} ms (${fmt(fast / results[0]!.fast)}× empty),` +
          ` slow reads p50 ${fmt(slow, 1)} ms (${fmt(slow / results[0]!.slow)}× empty) | polling every ${fmt(interval / 1000, 1)} s` +
          ` | share of the gateway's main thread ${fmt(share * 100, 1)}%`,
      );
    }
    console.log(JSON.stringify({ bench: 'dashboard', refreshes: REFRESHES, results }));
  } finally {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
