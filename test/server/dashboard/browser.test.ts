import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../helpers/browser.js';
import { type Stack, startStack, UPSTREAM_KEY } from '../../helpers/stack.js';

/**
 * The dashboard in Debian's Chromium, against a gateway in front of the simulator: what an
 * operator sees must be what the CLI and the admin API say.
 */
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'admin-token-for-tests-0123456789';
const ROOT = resolve(import.meta.dirname, '../../..');
/** Screenshots, kept after the run (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
const run = promisify(execFile);
const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 30,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

const dir = mkdtempSync(join(tmpdir(), 'sluice-dashboard-'));
const databaseUrl = `sqlite:${join(dir, 'sluice.db')}`;
let stack: Stack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every virtual key secret handed out in this test. */
const secrets: string[] = [];
/** The secret of `prod-reports-batch`, which the page rotates. */
let reportsSecret = '';
/** Every response the browser received: URL, method and body text. */
const responses: Array<{ url: string; method: string; body: string }> = [];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  stack = await startStack({ databaseUrl });
  secrets.push(stack.key);
  browser = await launchChromium(CHROMIUM);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('dialog', (dialog) => void dialog.accept());
  page.on('response', async (response) => {
    try {
      responses.push({
        url: response.url(),
        method: response.request().method(),
        body: await response.text(),
      });
    } catch {
      // A redirect or an aborted response has no body to read.
    }
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const text = (testid: string) => page.getByTestId(testid).first().textContent();

/** Waits until the page, refreshing itself, shows `expected` under a test id. */
async function shows(testid: string, expected: string, timeout = 30_000): Promise<void> {
  await expect
    .poll(() => text(testid), { timeout, interval: 250, message: `${testid} shows ${expected}` })
    .toBe(expected);
}

/** `sluice spend --json` run as an operator runs it, on the gateway's database. */
async function cliSpend(): Promise<{
  total: { cost_usd: string; requests: number };
  groups: Array<{ group: string; name?: string; cost_usd: string; requests: number }>;
}> {
  const { stdout } = await run(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'src/cli/main.ts'), 'spend', '--json', '--by', 'key', '--since', '24h'],
    { cwd: dir, env: { PATH: process.env.PATH, SLUICE_DATABASE_URL: databaseUrl }, timeout: 60_000 },
  );
  return JSON.parse(stdout);
}

/** Waits until the ledger holds `count` rows (they are written a moment after each answer). */
async function ledgerHolds(count: number): Promise<void> {
  await expect
    .poll(
      async () => {
        const response = await request(`${stack.gateway.url}/admin/requests/activity?since=1h`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        return ((await response.body.json()) as { totals: { requests: number } }).totals.requests;
      },
      { timeout: 10_000, interval: 100 },
    )
    .toBe(count);
}

// Skipped only on a developer machine without Chromium; CI installs it, so there it must run.
describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('the dashboard in Chromium', () => {
  it('refuses a wrong token', async () => {
    await page.goto(`${stack.gateway.url}/dashboard`);
    await page.fill('#token', `${TOKEN}-wrong`);
    await page.click('button[type=submit]');
    await expect.poll(() => text('login-error')).toBe('Wrong admin token.');
    expect(await context.cookies()).toEqual([]);
    expect(await page.locator('[data-testid="spend-total"]').count()).toBe(0);
    await shot('01-wrong-token');
  });

  it('logs in with the admin token into an HTTP-only, SameSite=Strict session', async () => {
    // The wrong token's delay has passed by the time its answer came.
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.getByTestId('spend-total').waitFor();
    expect(page.url()).toBe(`${stack.gateway.url}/dashboard`);
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({
      name: 'sluice_dashboard',
      httpOnly: true,
      sameSite: 'Strict',
      path: '/dashboard',
    });
    expect(await page.evaluate('document.cookie')).toBe('');
    await shot('02-logged-in');
  });

  it('shows the spend total and per-key figures that `sluice spend --json` reports', async () => {
    const created = await stack.gateway.keys.create({
      name: 'prod-reports-batch',
      environment: 'production',
    });
    secrets.push(created.key);
    reportsSecret = created.key;
    const backend = stack.sdk();
    const reports = stack.sdk({ apiKey: created.key });
    for (let i = 0; i < 3; i++) await backend.messages.create({ ...ask, max_tokens: 40 + i * 20 });
    await reports.messages.create({ ...ask, model: 'claude-sonnet-4-6' });
    await reports.messages.create({ ...ask, model: 'claude-opus-4-6', max_tokens: 60 });
    await ledgerHolds(5);
    const cli = await cliSpend();
    expect(cli.total.requests).toBe(5);
    await shows('spend-requests', '5');
    await shows('spend-total', `$${cli.total.cost_usd}`);
    expect(Number(cli.total.cost_usd)).toBeGreaterThan(0);
    for (const group of cli.groups) await shows(`cost-${group.name}`, `$${group.cost_usd}`);
    expect(cli.groups.map((g) => g.name).sort()).toEqual(['prod-backend-v1', 'prod-reports-batch']);
    await shot('03-spend');
  });

  it('shows a 429 storm scripted in the simulator as upstream 429s, apart from local refusals', async () => {
    // Eight 429s in a row: two requests, each tried four times by the gateway, end as upstream 429s.
    const scripted = await request(`${stack.simulator.url}/_sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ script: Array.from({ length: 8 }, () => ({ status: 429, retryAfter: 0 })) }),
    });
    expect(scripted.statusCode).toBe(200);
    await scripted.body.dump();
    const backend = stack.sdk();
    for (let i = 0; i < 2; i++)
      await expect(backend.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    // And one refusal of Sluice's own: a key allowed one request a minute.
    const limited = await stack.gateway.keys.create({
      name: 'prod-once-minute',
      environment: 'production',
      rpm: 1,
    });
    secrets.push(limited.key);
    const once = stack.sdk({ apiKey: limited.key });
    await once.messages.create(ask);
    await expect(once.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    await ledgerHolds(9);
    await shows('count-upstream_429', '2');
    await shows('count-refused_rate_limit', '1');
    expect(await text('count-retries')).toBe('6');
    expect(await text('count-upstream_529')).toBe('0');
    expect(await text('count-ok')).toBe('6');
    await shot('04-429-storm');
  });

  it('creates a key showing its secret once, and revokes it so that its next request is refused', async () => {
    await page.fill('#create-key input[name=name]', 'prod-dashboard-made');
    await page.fill('#create-key input[name=environment]', 'production');
    await page.click('#create-key button[type=submit]');
    await page.getByTestId('secret-box').waitFor({ state: 'visible' });
    const secret = (await text('secret'))!;
    expect(secret).toMatch(/^sk-sluice-/);
    secrets.push(secret);
    const client = new Anthropic({ apiKey: secret, baseURL: stack.gateway.url, maxRetries: 0 });
    await client.messages.create(ask);
    await page.click('#secret-done');
    expect(await page.content()).not.toContain(secret);
    await shows('status-prod-dashboard-made', 'active');
    await page.getByTestId('revoke-prod-dashboard-made').click();
    await shows('status-prod-dashboard-made', 'revoked');
    await expect(client.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    await shot('05-revoked');
  });

  it('rotates a key: the new secret is shown once, the old one is refused', async () => {
    const old = new Anthropic({ apiKey: reportsSecret, baseURL: stack.gateway.url, maxRetries: 0 });
    await page.getByTestId('rotate-prod-reports-batch').click();
    await page.getByTestId('secret-box').waitFor({ state: 'visible' });
    const rotated = (await text('secret'))!;
    expect(rotated).toMatch(/^sk-sluice-/);
    expect(rotated).not.toBe(reportsSecret);
    secrets.push(rotated);
    await page.click('#secret-done');
    await expect(old.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const fresh = new Anthropic({ apiKey: rotated, baseURL: stack.gateway.url, maxRetries: 0 });
    expect((await fresh.messages.create(ask)).type).toBe('message');
  });

  it('shows the other views: limits against the tier, routing, batches, audit and recent requests', async () => {
    await expect.poll(() => page.locator('#pools tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.locator('#pools').textContent()).toContain('rpm');
    expect(await text('routed-requests')).toBe('0');
    expect(await text('batches')).toMatch(/none yet|msgbatch_/);
    // The audit the admin API serves (`sluice keys audit --json`), flag for flag on each key's row.
    expect(await text('audit')).toMatch(/^Audit generated /);
    const audit = (await (
      await fetch(`${stack.gateway.url}/admin/keys/audit`, { headers: { 'x-sluice-admin-token': TOKEN } })
    ).json()) as { keys: Array<{ name: string; status: string; flags: string[] }> };
    const flagged = audit.keys.filter((k) => k.status === 'active' && k.flags.length > 0);
    expect(flagged.length).toBeGreaterThan(0);
    const keyTable = (await page.locator('#key-table').textContent()) ?? '';
    for (const key of flagged) expect(keyTable).toContain(key.flags.join(', '));
    await expect
      .poll(() => page.locator('#recent-table tbody tr').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(11);
    expect(await page.locator('#recent-table').textContent()).toContain('Upstream 429');
  });

  it('is readable on a phone: nothing wider than the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await shows('spend-requests', '11');
    const widths = (await page.evaluate(
      '({ page: document.documentElement.scrollWidth, screen: window.innerWidth })',
    )) as { page: number; screen: number };
    expect(widths.page).toBeLessThanOrEqual(widths.screen);
    await shot('06-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('has no admin token, upstream key or virtual key secret in any page, asset, answer or cookie', async () => {
    const cookies = JSON.stringify(await context.cookies());
    const oneTime = (r: { url: string; method: string }) =>
      r.method === 'POST' && /\/dashboard\/admin\/keys(\/[^/]+\/rotate)?$/.test(new URL(r.url).pathname);
    expect(responses.length).toBeGreaterThan(20);
    for (const secret of [TOKEN, UPSTREAM_KEY, ...secrets]) {
      expect(cookies).not.toContain(secret);
      expect(await page.content()).not.toContain(secret);
      for (const r of responses) {
        expect(r.url).not.toContain(secret);
        // A key's secret is in its create (or rotate) answer, once, by contract; nowhere else.
        if (oneTime(r) && secret.startsWith('sk-sluice-')) continue;
        expect(r.body, r.url).not.toContain(secret);
      }
    }
    expect(responses.filter(oneTime)).toHaveLength(2);
  });

  it('logs out: the session no longer reads data', async () => {
    await page.getByTestId('logout').click();
    await page.locator('#token').waitFor();
    expect(await context.cookies()).toEqual([]);
    const after = await page.evaluate(async () => (await fetch('/dashboard/admin/keys')).status);
    expect(after).toBe(401);
    await shot('07-logged-out');
  });
});
