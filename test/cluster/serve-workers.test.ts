import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { usdToPico } from '../../src/catalog/money.js';
import { loadConfig } from '../../src/config/load.js';
import { KeyService, keyPolicy } from '../../src/keys/service.js';
import { moneyDb } from '../../src/ledger/tables.js';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { openStore } from '../../src/store/database.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';

// `sluice serve --workers 2` as an operator runs it: a primary and two worker processes on one
// SQLite file, no Redis. Every request goes on a connection of its own, so the primary hands
// them to both workers in turn; the request log lines say which worker answered.
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const cwd = mkdtempSync(join(tmpdir(), 'sluice-workers-'));
const databaseUrl = `sqlite:${join(cwd, 'sluice.db')}`;
const BUDGET_PICO = 10_000_000_000n; // $0.01

let simulator: Simulator;
let server: ChildProcess;
let output = '';
let url: string;
const keys: Record<string, string> = {};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function post(key: string, model: string, content = 'hello'): Promise<Answer> {
  const body = JSON.stringify({ model, max_tokens: 100, messages: [{ role: 'user', content }] });
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/messages`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
          'x-api-key': key,
          connection: 'close',
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The request log lines written so far (stdout is flushed every second), by request id. */
function requestLines(): Array<{ worker?: number; requestId?: string; status?: number }> {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line));
}

async function workersThatAnswered(answers: Answer[]): Promise<Set<number>> {
  const ids = new Set(answers.map(gatewayRequestId));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const workers = new Set<number>();
  for (const line of requestLines()) if (ids.has(line.requestId ?? '')) workers.add(line.worker!);
  return workers;
}

const exited = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code ?? -1));
  });

beforeAll(async () => {
  simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY] });
  const env = {
    ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
    SLUICE_UPSTREAM_URL: simulator.url,
    SLUICE_DATABASE_URL: databaseUrl,
  };
  const loaded = loadConfig({ cwd, env, requireUpstreamKey: true });
  const store = await openStore(databaseUrl);
  const service = new KeyService(store.db, keyPolicy(loaded.config));
  for (const [name, rpm] of [
    ['prod-quota-test', 10],
    ['prod-budget-test', undefined],
    ['prod-revoke-test', undefined],
    ['prod-drain-test', undefined],
  ] as const)
    keys[name] = (await service.create({ name, environment: 'production', rpm })).key;
  await store.close();
  writeFileSync(
    join(cwd, 'sluice.yaml'),
    stringifyYaml({
      budgets: { limits: [{ scope: 'key', key: 'prod-budget-test', window: 'total', usd: '0.01' }] },
    }),
  );
  server = spawn(process.execPath, ['--import', tsx, main, 'serve', '--port', '0', '--workers', '2'], {
    cwd,
    env: { PATH: process.env.PATH!, ...env },
  });
  server.stdout!.on('data', (c) => (output += c));
  server.stderr!.on('data', (c) => (output += c));
  url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+) \(2 workers\)/.exec(output);
      if (match) resolve(match[1]!);
    });
    server.once('exit', () => reject(new Error(output)));
  });
}, 120_000);

afterAll(async () => {
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
  await simulator.close();
});

describe('sluice serve --workers 2 (no Redis)', () => {
  it('holds a key quota of 10 requests a minute exactly across both workers', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => post(keys['prod-quota-test']!, 'claude-haiku-4-5')),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect(await workersThatAnswered(answers)).toEqual(new Set([1, 2]));
  }, 60_000);

  it('holds a $0.01 budget under 50 concurrent Opus requests across both workers', async () => {
    const before = simulator.counters().requests;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post(keys['prod-budget-test']!, 'claude-opus-4-8', `question ${i}`),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(ok.length + refused.length).toBe(50);
    for (const a of refused)
      expect(JSON.parse(a.body).error.message).toMatch(/budget of key prod-budget-test/);
    const spent = ok.reduce((sum, a) => sum + usdToPico(String(a.headers['x-sluice-cost-usd'])), 0n);
    expect(spent).toBeLessThanOrEqual(BUDGET_PICO);
    // Refused requests never reached the upstream.
    expect(simulator.counters().requests - before).toBe(ok.length);
    expect(await workersThatAnswered(answers)).toEqual(new Set([1, 2]));
  }, 60_000);

  it('refuses a revoked key on both workers within a second', async () => {
    const key = keys['prod-revoke-test']!;
    const warm = await Promise.all(Array.from({ length: 6 }, () => post(key, 'claude-haiku-4-5')));
    expect(warm.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(await workersThatAnswered(warm)).toEqual(new Set([1, 2]));
    // Revoked as `sluice keys revoke` does: in the store, announced on the change feed.
    const store = await openStore(databaseUrl);
    const loaded = loadConfig({
      cwd,
      env: { ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY, SLUICE_DATABASE_URL: databaseUrl },
    });
    await new KeyService(store.db, keyPolicy(loaded.config)).revoke('prod-revoke-test');
    await store.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await Promise.all(Array.from({ length: 6 }, () => post(key, 'claude-haiku-4-5')));
    expect(after.map((a) => a.status)).toEqual(Array(6).fill(401));
    expect(await workersThatAnswered(after)).toEqual(new Set([1, 2]));
  }, 60_000);

  it('starts a new worker when one crashes, and keeps serving', async () => {
    const started = /"worker":1,"pid":(\d+)/.exec(output);
    expect(started).not.toBeNull();
    process.kill(Number(started![1]), 'SIGKILL');
    await waitFor(() => output.includes('worker exited; starting a new one'), 10_000);
    await waitFor(() => /"worker":3,"pid":\d+.*"msg":"sluice listening"/.test(output), 60_000);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(keys['prod-drain-test']!, 'claude-haiku-4-5')),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(await workersThatAnswered(answers)).toEqual(new Set([2, 3]));
  }, 90_000);

  it('drains every worker on SIGTERM: requests in flight are answered and recorded, then it exits 0', async () => {
    simulator.faults.script(Array.from({ length: 6 }, () => ({ kind: 'delay' as const, ms: 800 })));
    const slow = Array.from({ length: 6 }, (_, i) =>
      post(keys['prod-drain-test']!, 'claude-haiku-4-5', `slow ${i}`),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.kill('SIGTERM');
    const answers = await Promise.all(slow);
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    expect(await exited(server)).toBe(0);
    // Every answered request of this run is in the ledger once, written by the worker that served it.
    const ids = answers.map(gatewayRequestId);
    const store = await openStore(databaseUrl);
    const rows = await moneyDb(store.db).selectFrom('ledger').select(['request_id', 'status']).execute();
    await store.close();
    for (const id of ids) expect(rows.filter((r) => r.request_id === id)).toHaveLength(1);
    expect(output).not.toContain(UPSTREAM_KEY);
    for (const key of Object.values(keys)) expect(output).not.toContain(key);
  }, 90_000);
});

/** The gateway's id of a request: beside the upstream's on a forwarded answer, alone on a refusal. */
function gatewayRequestId(answer: Answer): string {
  return String(answer.headers['x-sluice-request-id'] ?? answer.headers['request-id']);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out; output:\n${output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
