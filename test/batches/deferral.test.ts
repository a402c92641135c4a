import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { startSimulator } from '../../src/simulator/index.js';
import { openStore } from '../../src/store/database.js';
import { startStack, UPSTREAM_KEY } from '../helpers/stack.js';
import { eventually, startBatchGateway } from './helpers.js';

const MODEL = 'claude-sonnet-5-5';
const params = (i: number) => ({
  model: MODEL,
  max_tokens: 30 + (i % 9) * 10,
  messages: [
    {
      role: 'user',
      content: `Deferred question ${i}: ${'what is a good name for a cat '.repeat(1 + (i % 4))}`,
    },
  ],
});

interface Deferred {
  id: string;
  status: string;
  result: { type: string; message?: { usage: { service_tier: string } } } | null;
}

function post(url: string, key: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: {
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      'x-sluice-defer': 'batch',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

async function deferredOf(url: string, key: string, id: string): Promise<{ status: number; body: Deferred }> {
  const response = await fetch(`${url}/sluice/v1/deferred/${id}`, { headers: { 'x-api-key': key } });
  return { status: response.status, body: (await response.json()) as Deferred };
}

async function ledgerCost(db: Awaited<ReturnType<typeof openStore>>['db'], batch: 0 | 1) {
  const rows = await db
    .selectFrom('ledger')
    .select(['cost_pico'])
    .where('batch', '=', batch)
    .where('status', '=', 200)
    .execute();
  return { rows: rows.length, pico: rows.reduce((sum, r) => sum + BigInt(r.cost_pico), 0n) };
}

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

describe('deferral', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
  });

  it('500 deferred requests: every result delivered once, at half the cost of the same requests live', async () => {
    const simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY], timeScale: 3600, seed: 3 });
    closers.push(() => simulator.close());
    const stack = await startBatchGateway(simulator, 'sqlite::memory:', {
      batches: { pollMs: 50, leaseMs: 5000, defer: { maxRequests: 200, maxAgeMs: 8000 } },
    });
    closers.push(() => stack.close());
    const { key } = await stack.gateway.keys.create({ name: 'prod-defer-owner', environment: 'production' });
    const { key: stranger } = await stack.gateway.keys.create({
      name: 'prod-defer-stranger',
      environment: 'production',
    });

    const callbacks = new Map<string, number>();
    const receiver: Server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text) as Deferred;
        callbacks.set(body.id, (callbacks.get(body.id) ?? 0) + 1);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => receiver.close(resolve)));
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;

    // Sent 20 at a time: two batches fill up to 200 (flushed on count), the last 100 wait out the 8 s age.
    const ids: string[] = [];
    for (let from = 0; from < 500; from += 20) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const i = from + j;
          // One in five asks for its result to be posted to a callback URL.
          const response = await post(
            stack.gateway.url,
            key,
            params(i),
            i % 5 === 0 ? { 'x-sluice-callback-url': callbackUrl } : {},
          );
          expect(response.status).toBe(202);
          return (await response.json()) as { id: string; status: string };
        }),
      );
      for (const answer of answers) {
        expect(answer.status).toBe('queued');
        ids.push(answer.id);
      }
    }
    expect((await deferredOf(stack.gateway.url, stranger, ids[0]!)).status).toBe(404);
    // What a batch cannot run is refused at once, not queued.
    for (const extra of [{ stream: true }, { speed: 'fast' }, { max_tokens: 0 }]) {
      const refused = await post(stack.gateway.url, key, { ...params(0), ...extra });
      expect(refused.status, JSON.stringify(extra)).toBe(400);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/cannot/);
    }

    const results = await eventually(async () => {
      const all = await Promise.all(ids.map((id) => deferredOf(stack.gateway.url, key, id)));
      return all.every((r) => r.body.status === 'done') ? all : undefined;
    }, 60_000);
    for (const { status, body } of results) {
      expect(status).toBe(200);
      expect(body.result?.type).toBe('succeeded');
      expect(body.result?.message?.usage.service_tier).toBe('batch');
    }
    await eventually(async () => (callbacks.size === 100 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300)); // a second delivery would show by now
    expect([...callbacks.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(callbacks.keys())).toEqual(new Set(ids.filter((_, i) => i % 5 === 0)));

    const batches = await stack.gateway.store.db
      .selectFrom('message_batches')
      .select(['request_count'])
      .execute();
    expect(batches.map((b) => b.request_count).sort((a, b) => b - a)).toEqual([200, 200, 100]);
    await eventually(async () =>
      (await ledgerCost(stack.gateway.store.db, 1)).rows === 500 ? true : undefined,
    );
    const deferred = await ledgerCost(stack.gateway.store.db, 1);

    // The same 500 requests sent live, on a fresh simulator of the same seed.
    const live = await startStack({ simulator: { seed: 3 } });
    closers.push(() => live.close());
    const refused = await post(live.gateway.url, live.key, params(0), { 'x-sluice-defer': 'later' });
    expect(refused.status).toBe(400); // the header's only value is "batch"
    await refused.arrayBuffer();
    for (let i = 0; i < 500; i++) {
      const sent = await fetch(`${live.gateway.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': live.key,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: JSON.stringify(params(i)),
      });
      expect(sent.status).toBe(200);
      await sent.arrayBuffer();
    }
    const liveCost = await eventually(async () => {
      const cost = await ledgerCost(live.gateway.store.db, 0);
      return cost.rows === 500 ? cost : undefined;
    });
    expect(deferred.pico * 2n).toBe(liveCost.pico);
    console.log(
      `deferral: 500 requests cost ${deferred.pico} pico deferred, ${liveCost.pico} pico live (${Number((deferred.pico * 10000n) / liveCost.pico) / 100}%)`,
    );
  }, 120_000);

  it('loses no deferred request when the gateway is killed (kill -9) between the 202 and the flush', async () => {
    const simulator = await startSimulator({ apiKeys: [UPSTREAM_KEY], timeScale: 3600 });
    closers.push(() => simulator.close());
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-defer-kill-'));
    const databaseUrl = `sqlite:${join(cwd, 'sluice.db')}`;
    const env = {
      PATH: process.env.PATH!,
      ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY,
      SLUICE_UPSTREAM_URL: simulator.url,
      SLUICE_DATABASE_URL: databaseUrl,
    };
    const sluice = (args: string[]) => {
      const child = spawn(process.execPath, ['--import', tsx, main, ...args], { cwd, env });
      let output = '';
      child.stdout!.on('data', (c) => (output += c));
      child.stderr!.on('data', (c) => (output += c));
      return Object.assign(child, { output: () => output });
    };
    const exited = (child: ChildProcess) =>
      new Promise<number>((resolve) =>
        child.once('exit', (code, signal) => resolve(code ?? (signal ? -9 : -1))),
      );
    const serve = async () => {
      const server = sluice(['serve', '--port', '0']);
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout!.on('data', () => {
          const match = /listening on (http:\/\/\S+)/.exec(server.output());
          if (match) resolve(match[1]!);
        });
        server.once('exit', () => reject(new Error(server.output())));
      });
      return { server, url };
    };
    const settings = (maxAgeMs: number) =>
      writeFileSync(
        join(cwd, 'sluice.yaml'),
        stringifyYaml({ batches: { pollMs: 100, defer: { maxRequests: 1000, maxAgeMs } } }),
      );

    const create = sluice(['keys', 'create', '--name', 'prod-defer-kill', '--env', 'production', '--json']);
    expect(await exited(create)).toBe(0);
    const { key } = JSON.parse(create.output()) as { key: string };

    settings(3_600_000); // nothing is flushed by the first process
    const first = await serve();
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const response = await post(first.url, key, params(i));
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { id: string }).id);
    }
    first.server.kill('SIGKILL');
    expect(await exited(first.server)).toBe(-9);
    expect(simulator.counters().byPath['POST /v1/messages/batches']).toBeUndefined();

    settings(100);
    const second = await serve();
    closers.push(async () => {
      second.server.kill('SIGTERM');
      await exited(second.server);
    });
    const results = await eventually(async () => {
      const all = await Promise.all(ids.map((id) => deferredOf(second.url, key, id)));
      return all.every((r) => r.body.status === 'done') ? all : undefined;
    }, 60_000);
    expect(results.filter((r) => r.body.result?.type === 'succeeded')).toHaveLength(50);
    const store = await openStore(databaseUrl);
    closers.push(() => store.close());
    await eventually(async () => ((await ledgerCost(store.db, 1)).rows === 50 ? true : undefined));
    expect(second.server.output()).not.toContain(UPSTREAM_KEY);
    expect(second.server.output()).not.toContain(key);
  }, 120_000);
});
