import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/catalog/money.js';
import type { Gateway } from '../../src/server/gateway.js';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { createPostgresDatabase, redisPrefix, redisUrl } from '../helpers/services.js';
import { ADMIN_TOKEN, startTestGateway, UPSTREAM_KEY } from '../helpers/stack.js';
import { type Alert, webhookReceiver } from '../helpers/webhook.js';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A webhook receiver, closed after the test. */
async function receiver() {
  const hook = await webhookReceiver();
  cleanup.push(hook.close);
  return hook;
}

async function simulator(): Promise<Simulator> {
  const started = await startSimulator({ apiKeys: [UPSTREAM_KEY] });
  cleanup.push(() => started.close());
  return started;
}

/** A gateway with every plugin, as `sluice serve` runs it. */
async function gateway(options: {
  upstream: string;
  databaseUrl: string;
  webhook: string;
  yaml?: Record<string, unknown>;
}): Promise<Gateway> {
  const { gateway: started } = await startTestGateway({
    upstreamUrl: options.upstream,
    databaseUrl: options.databaseUrl,
    env: { SLUICE_ALERT_WEBHOOK_URL: options.webhook },
    yaml: options.yaml,
  });
  cleanup.push(() => started.close());
  return started;
}

/** `sluice …` in its own process, as an operator runs it beside a running gateway. */
function sluice(args: string[], databaseUrl: string): Promise<{ code: number; output: string }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', tsx, main, ...args], {
    cwd: mkdtempSync(join(tmpdir(), 'sluice-cli-')),
    env: { PATH: process.env.PATH!, SLUICE_DATABASE_URL: databaseUrl },
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code: code ?? -1, output })));
}

async function opus(url: string, key: string, i: number) {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-opus-4-8',
      max_tokens: 40,
      messages: [{ role: 'user', content: `question ${i}` }],
    }),
  });
  const body = (await response.json()) as { error?: { message: string } };
  return {
    status: response.status,
    costPico: response.status === 200 ? usdToPico(response.headers.get('x-sluice-cost-usd')!) : 0n,
    message: body.error?.message ?? '',
    budgetId: response.headers.get('x-sluice-budget'),
  };
}

/** Opus requests one after the other until one is refused (and one more, refused too). */
async function spendUntilRefused(url: string, key: string) {
  let spentPico = 0n;
  let answered = 0;
  const refusals: Array<Awaited<ReturnType<typeof opus>>> = [];
  for (let i = 0; i < 120 && refusals.length < 2; i++) {
    const result = await opus(url, key, i);
    if (result.status === 200) {
      expect(refusals).toHaveLength(0); // once refused, always refused
      spentPico += result.costPico;
      answered++;
    } else refusals.push(result);
  }
  return { spentPico, answered, refusals };
}

async function alertsSettled(alerts: Alert[], count: number): Promise<void> {
  for (let i = 0; i < 150 && alerts.length < count; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // and no more follow
}

/** Polls until `check` holds; the time it took, or undefined after `ms`. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 10));
  }
  return undefined;
}

const status = async (url: string, key: string) =>
  (await fetch(`${url}/v1/models`, { headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } }))
    .status;

function expectScenario(
  run: Awaited<ReturnType<typeof spendUntilRefused>>,
  alerts: Alert[],
  upstream: Simulator,
  key: { id: string; name: string },
  budgetId: string,
): void {
  expect(run.spentPico).toBeGreaterThan(0n);
  expect(run.spentPico).toBeLessThanOrEqual(usdToPico('0.02'));
  expect(run.refusals).toHaveLength(2);
  for (const refusal of run.refusals) {
    expect(refusal.status).toBe(429);
    expect(refusal.message).toMatch(
      /^total \(prepaid\) budget of key prod-backend-v1 \(\$0\.02\) would be exceeded/,
    );
    expect(refusal.message).not.toContain(key.id);
    expect(refusal.budgetId).toBe(budgetId);
  }
  // Refused requests never reached the upstream.
  expect(upstream.counters().requests).toBe(run.answered);
  expect(alerts.map((a) => [a.version, a.alert.kind, a.alert.threshold])).toEqual([
    [1, 'budget_threshold', 50],
    [1, 'budget_threshold', 80],
    [1, 'budget_exhausted', 100],
  ]);
  expect(alerts[0]!.text).toMatch(
    /^Sluice: 50% of the total \(prepaid\) budget of key prod-backend-v1 \(\$0\.02\) used/,
  );
  expect(alerts[2]!.text).toMatch(
    /budget of key prod-backend-v1 \(\$0\.02\) is exhausted and requests are refused/,
  );
  for (const alert of alerts) {
    expect(alert.alert).toMatchObject({
      scope: 'key',
      subject: key.name,
      subject_id: key.id,
      budget: budgetId,
    });
    expect(alert.text).not.toContain(key.id);
  }
}

describe('a change takes effect at once', () => {
  it('on SQLite: a budget set from the CLI in another process holds a workload that starts at once', async () => {
    const upstream = await simulator();
    const hook = await receiver();
    const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-feed-db-')), 'sluice.db')}`;
    const a = await gateway({ upstream: upstream.url, databaseUrl, webhook: hook.url });
    const { key, view } = await a.keys.create({ name: 'prod-backend-v1', environment: 'production' });

    const set = await sluice(
      [
        'budgets',
        'set',
        '--key',
        'prod-backend-v1',
        '--usd',
        '0.02',
        '--window',
        'total',
        '--thresholds',
        '50,80',
      ],
      databaseUrl,
    );
    expect(set.code, set.output).toBe(0);
    expect(set.output).toMatch(/every running gateway enforces it by \d{4}-\d{2}-\d{2}T/);
    const run = await spendUntilRefused(a.url, key);
    await alertsSettled(hook.alerts, 3);
    expectScenario(run, hook.alerts, upstream, view, `key:${view.id}:total`);

    // Revoked from the CLI: refused by the running gateway within the feed's bound (1 s, with margin).
    const { key: other } = await a.keys.create({ name: 'prod-revoke-test', environment: 'production' });
    expect(await status(a.url, other)).toBe(200); // cached now
    const revoked = await sluice(['keys', 'revoke', 'prod-revoke-test'], databaseUrl);
    expect(revoked.code, revoked.output).toBe(0);
    expect(await within(1500, async () => (await status(a.url, other)) === 401)).toBeDefined();
  }, 90_000); // two CLI processes, each compiling TypeScript on start

  it('on PostgreSQL + Redis: a budget set on one instance holds the workload on the other', async () => {
    const upstream = await simulator();
    const hook = await receiver();
    const database = await createPostgresDatabase('feed');
    cleanup.push(() => database.drop());
    const yaml = {
      budgets: { store: { backend: 'redis', url: redisUrl, prefix: redisPrefix('feed'), failOpen: false } },
    };
    const a = await gateway({ upstream: upstream.url, databaseUrl: database.url, webhook: hook.url, yaml });
    const b = await gateway({ upstream: upstream.url, databaseUrl: database.url, webhook: hook.url, yaml });
    const { key, view } = await a.keys.create({ name: 'prod-backend-v1', environment: 'production' });

    const admin = (path: string, method: string, body?: unknown) =>
      fetch(`${b.url}${path}`, {
        method,
        headers: { 'x-sluice-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const set = await admin('/admin/budgets', 'PUT', {
      scope: 'key',
      subject: 'prod-backend-v1',
      window: 'total',
      usd: '0.02',
      thresholds: [50, 80],
    });
    expect(set.status).toBe(200);
    const answer = (await set.json()) as { id: string; enforced: Record<string, string> };
    expect(answer.id).toBe(`key:${view.id}:total`);
    expect(Date.parse(answer.enforced.everywhere_by!) - Date.parse(answer.enforced.stored_at!)).toBe(1000);

    const run = await spendUntilRefused(a.url, key);
    await alertsSettled(hook.alerts, 3);
    // Both instances follow the budget; its alerts go out once between them.
    expectScenario(run, hook.alerts, upstream, view, answer.id);

    // A key policy changed on B applies on A within the bound.
    const { key: other } = await a.keys.create({ name: 'prod-policy-test', environment: 'production' });
    expect((await opus(a.url, other, 0)).status).toBe(200);
    expect(
      (await admin('/admin/keys/prod-policy-test', 'PATCH', { models: ['claude-haiku-4-5'] })).status,
    ).toBe(200);
    expect(await within(1500, async () => (await opus(a.url, other, 1)).status === 403)).toBeDefined();

    // Revoked on B: refused on A within the bound.
    expect(await status(a.url, other)).toBe(200);
    expect((await admin('/admin/keys/prod-policy-test/revoke', 'POST')).status).toBe(200);
    expect(await within(1500, async () => (await status(a.url, other)) === 401)).toBeDefined();
  }, 60_000);

  it('a budget set below what is already spent refuses the next request and alerts "exhausted" at once', async () => {
    const upstream = await simulator();
    const hook = await receiver();
    const a = await gateway({ upstream: upstream.url, databaseUrl: 'sqlite::memory:', webhook: hook.url });
    const { key, view } = await a.keys.create({ name: 'prod-backend-v1', environment: 'production' });
    for (let i = 0; i < 3; i++) expect((await opus(a.url, key, i)).status).toBe(200);
    const set = await fetch(`${a.url}/admin/budgets`, {
      method: 'PUT',
      headers: { 'x-sluice-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'key', subject: view.id, window: 'total', usd: '0.001' }),
    });
    expect(set.status).toBe(200);
    await alertsSettled(hook.alerts, 1);
    // Alerted when set, before any request tried.
    expect(hook.alerts.map((a) => a.alert.kind)).toEqual(['budget_exhausted']);
    expect(hook.alerts[0]!.text).toMatch(/budget of key prod-backend-v1 \(\$0\.001\) is exhausted/);
    const requests = upstream.counters().requests;
    const refused = await opus(a.url, key, 9);
    expect(refused.status).toBe(429);
    expect(refused.message).toMatch(/key prod-backend-v1/);
    expect(upstream.counters().requests).toBe(requests);
  });

  it('counts a request that was in flight when its budget was set', async () => {
    const upstream = await simulator();
    const hook = await receiver();
    const a = await gateway({ upstream: upstream.url, databaseUrl: 'sqlite::memory:', webhook: hook.url });
    const { key, view } = await a.keys.create({ name: 'prod-backend-v1', environment: 'production' });
    upstream.faults.script([{ kind: 'delay', ms: 500 }]);
    const slow = opus(a.url, key, 0);
    await new Promise((r) => setTimeout(r, 150));
    const set = await fetch(`${a.url}/admin/budgets`, {
      method: 'PUT',
      headers: { 'x-sluice-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'key', subject: 'prod-backend-v1', window: 'total', usd: '1' }),
    });
    expect(set.status).toBe(200);
    const { costPico, status: answered } = await slow;
    expect(answered).toBe(200);
    const budgetStatus = (await (
      await fetch(`${a.url}/admin/budgets/status`, { headers: { 'x-sluice-admin-token': ADMIN_TOKEN } })
    ).json()) as { data: Array<{ id: string; spent_pico: string }> };
    expect(budgetStatus.data).toEqual([
      expect.objectContaining({ id: `key:${view.id}:total`, spent_pico: costPico.toString() }),
    ]);
  });
});
