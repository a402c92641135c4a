import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { request } from 'undici';
import { expect, it } from 'vitest';
import { createPostgresDatabase } from '../helpers/services.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

async function ask(stack: Stack): Promise<{ status: number; requestId: string }> {
  const response = await request(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': stack.key,
    },
    body: JSON.stringify({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    }),
  });
  await response.body.text();
  return { status: response.statusCode, requestId: String(response.headers['x-sluice-request-id']) };
}

async function metric(stack: Stack, name: string): Promise<number> {
  const text = await stack.gateway.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

it('survives PostgreSQL going away and coming back, and records every answered request exactly once', async () => {
  const database = await createPostgresDatabase('faults');
  // The gateway reaches PostgreSQL through a proxy the test cuts: its pooled connections fail
  // as in a PostgreSQL restart, without restarting the server other tests share.
  const proxy = await startTcpProxy(Number(new URL(database.url).port || 5432));
  const through = new URL(database.url);
  through.port = String(proxy.port);
  const stack = await startStack({
    databaseUrl: through.toString(),
    env: { SLUICE_LEDGER_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'sluice-spool-')) },
    yaml: { limits: { enabled: false }, ledger: { flushIntervalMs: 50 } },
  });
  const direct = new pg.Client({ connectionString: database.url });
  await direct.connect();
  const rows = async () =>
    (await direct.query<{ request_id: string }>('select request_id from ledger')).rows.map(
      (r) => r.request_id,
    );
  try {
    const answered: string[] = [];
    const record = (answer: { status: number; requestId: string }) => {
      expect(answer.status).toBe(200);
      answered.push(answer.requestId);
    };
    for (let i = 0; i < 5; i++) record(await ask(stack));
    await until(async () => (await rows()).length === 5);

    proxy.cut();
    // The pool's idle connections fail now: the 'error' events must not end the process.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 10; i++) record(await ask(stack));
    await until(async () => (await metric(stack, 'sluice_ledger_spooled_rows_total')) >= 10);
    expect((await rows()).length).toBe(5);

    proxy.restore();
    await until(async () => (await rows()).length === 15);
    // Counted once its segment is deleted, just after the rows are in.
    await until(async () => (await metric(stack, 'sluice_ledger_replayed_rows_total')) === 10);
    expect(await metric(stack, 'sluice_ledger_spooled_rows_total')).toBe(10);
    for (let i = 0; i < 3; i++) record(await ask(stack));
    await until(async () => (await rows()).length === 18);
    const recorded = await rows();
    expect(new Set(recorded).size).toBe(recorded.length);
    expect([...recorded].sort()).toEqual([...answered].sort());
  } finally {
    await direct.end();
    await stack.close();
    await proxy.close();
    await database.drop();
  }
}, 40_000);

it('starts with budget counters on an unreachable Redis when failOpen, and answers', async () => {
  const stack = await startStack({
    yaml: { budgets: { store: { backend: 'redis', url: 'redis://127.0.0.1:1', failOpen: true } } },
  });
  try {
    expect((await ask(stack)).status).toBe(200);
  } finally {
    await stack.close();
  }
});
