import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { expect, it } from 'vitest';
import { usdToPico } from '../../src/catalog/money.js';
import { createPostgresDatabase } from '../helpers/services.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A Redis server of this test's own, without persistence: stopping it loses every counter, as a
 * restart of a cache-only Redis (or a flush, or eviction) does. The shared server is never touched.
 */
async function startPrivateRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => {});
  for (let attempt = 0; ; attempt++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  probe.disconnect();
  return child;
}

async function stopPrivateRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

async function ask(stack: Stack, i: number): Promise<{ status: number; requestId: string }> {
  const response = await fetch(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': stack.key,
    },
    body: JSON.stringify({
      model: 'claude-opus-4-8',
      max_tokens: 64,
      messages: [{ role: 'user', content: `Request ${i}: name three rivers of Europe.` }],
    }),
  });
  await response.text();
  return { status: response.status, requestId: String(response.headers.get('x-sluice-request-id')) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('under load, PostgreSQL cut and Redis restarted: every answered request is in the ledger once, and the budget holds', async () => {
  const budget = usdToPico('0.15');
  const database = await createPostgresDatabase('budget_faults');
  const proxy = await startTcpProxy(Number(new URL(database.url).port || 5432));
  const through = new URL(database.url);
  through.port = String(proxy.port);
  const redisPort = await freePort();
  let redis = await startPrivateRedis(redisPort);
  const stack = await startStack({
    databaseUrl: through.toString(),
    env: { SLUICE_LEDGER_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'sluice-spool-')) },
    yaml: {
      limits: { enabled: false },
      ledger: { flushIntervalMs: 50 },
      budgets: {
        store: { backend: 'redis', url: `redis://127.0.0.1:${redisPort}`, failOpen: false },
        limits: [{ scope: 'global', window: 'daily', usd: '0.15' }],
      },
    },
  });
  const direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  try {
    // At least 200 requests, one every 15 ms. PostgreSQL goes away for 0.6 s once 20 are answered;
    // Redis is killed (losing every counter) and started again once the budget refuses requests,
    // and the load goes on for 60 more requests after it is back.
    const answers: Array<Promise<{ status: number; requestId: string }>> = [];
    const settled: Array<{ status: number; requestId: string }> = [];
    let restartedAt = -1;
    const faults = (async () => {
      while (settled.filter((a) => a.status === 200).length < 20) await sleep(10);
      proxy.cut();
      await sleep(600);
      proxy.restore();
      while (!settled.some((a) => a.status === 429)) await sleep(10);
      await stopPrivateRedis(redis);
      await sleep(200);
      redis = await startPrivateRedis(redisPort);
      restartedAt = answers.length;
    })();
    for (let i = 0; i < 200 || restartedAt < 0 || answers.length < restartedAt + 60; i++) {
      answers.push(
        ask(stack, i).then((answer) => {
          settled.push(answer);
          return answer;
        }),
      );
      await sleep(15);
      if (i > 2000) throw new Error('the faults never happened');
    }
    await faults;
    const all = await Promise.all(answers);
    const answered = all.filter((a) => a.status === 200);
    // 200 answered, 429 budget exhausted, 503 counters unavailable (Redis down, failOpen false).
    for (const answer of all) expect([200, 429, 503]).toContain(answer.status);
    expect(answered.length).toBeGreaterThan(20);
    // After the restart, the window re-seeded from the ledger still refuses.
    expect(all.slice(restartedAt).some((a) => a.status === 429)).toBe(true);

    await stack.close();
    const rows = (
      await direct.query<{ request_id: string; status: number; cost_pico: string }>(
        'select request_id, status, cost_pico from ledger',
      )
    ).rows;
    const ids = rows.map((r) => r.request_id);
    expect(new Set(ids).size).toBe(ids.length);
    const answeredRows = rows.filter((r) => r.status === 200).map((r) => r.request_id);
    expect(answeredRows.sort()).toEqual(answered.map((a) => a.requestId).sort());
    const spent = rows.reduce((sum, r) => sum + BigInt(r.cost_pico), 0n);
    expect(spent).toBeLessThanOrEqual(budget);
    expect(spent).toBeGreaterThan(budget / 2n);
  } finally {
    await direct.end();
    await stack.close().catch(() => {});
    await proxy.close();
    await stopPrivateRedis(redis);
    await database.drop();
  }
}, 60_000);
