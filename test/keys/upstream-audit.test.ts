import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/simulator/index.js';
import { cli, cliWorkspace } from '../helpers/cli.js';
import { UPSTREAM_KEY } from '../helpers/stack.js';

const DAY = 86_400_000;
const ADMIN_KEY = `sk-ant-admin01-${'Sluice_test-admin_key'.padEnd(93, 'x')}AA`;
const LEGACY_KEY = `sk-ant-api03-${'legacy-batch-job'.padEnd(93, 'y')}AA`;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

let simulator: Simulator;
cliWorkspace('upstream-audit', { ANTHROPIC_AUTH_TOKEN: UPSTREAM_KEY, ANTHROPIC_ADMIN_KEY: ADMIN_KEY });

beforeAll(async () => {
  simulator = await startSimulator({
    apiKeys: [UPSTREAM_KEY, LEGACY_KEY],
    organization: {
      adminKeys: [ADMIN_KEY],
      apiKeys: [
        { name: 'prod-gateway-upstream', key: UPSTREAM_KEY, createdAt: ago(200) },
        { name: 'prod-legacy-batch', key: LEGACY_KEY, createdAt: ago(300) },
        {
          name: 'Marketing Script',
          createdAt: ago(100),
          usage: [{ at: ago(5), model: 'claude-sonnet-4-5', inputTokens: 1200, outputTokens: 300 }],
        },
        { name: 'ci-old-runner', createdAt: ago(400), status: 'inactive' },
        { name: 'dev-fresh-key', createdAt: ago(2) },
      ],
    },
  });
  process.env.SLUICE_UPSTREAM_URL = simulator.url;
});
afterAll(() => simulator.close());

const direct = (key: string) => new Anthropic({ apiKey: key, baseURL: simulator.url, maxRetries: 0 });
const hello = {
  model: 'claude-haiku-4-5',
  max_tokens: 16,
  messages: [{ role: 'user' as const, content: 'Hi' }],
};

describe('the simulator as the Admin API', () => {
  it('takes admin keys only on /v1/organizations and never for Messages', async () => {
    await expect(direct(ADMIN_KEY).messages.create(hello)).rejects.toMatchObject({ status: 401 });
    const asApiKey = await fetch(`${simulator.url}/v1/organizations/api_keys`, {
      headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' },
    });
    expect(asApiKey.status).toBe(401);
    const page = await fetch(`${simulator.url}/v1/organizations/api_keys?limit=2`, {
      headers: { 'x-api-key': ADMIN_KEY, 'anthropic-version': '2023-06-01' },
    }).then((r) => r.json() as Promise<{ data: Array<{ id: string }>; has_more: boolean; last_id: string }>);
    expect(page.data).toHaveLength(2);
    expect(page.has_more).toBe(true);
    const rest = await fetch(`${simulator.url}/v1/organizations/api_keys?after_id=${page.last_id}`, {
      headers: { 'x-api-key': ADMIN_KEY, 'anthropic-version': '2023-06-01' },
    }).then((r) => r.json() as Promise<{ data: Array<{ id: string }>; has_more: boolean }>);
    expect(rest.data).toHaveLength(3);
    expect(rest.has_more).toBe(false);
  });

  it('reports Messages usage per API key in daily buckets', async () => {
    const answer = await direct(UPSTREAM_KEY).messages.create(hello);
    const report = await fetch(
      `${simulator.url}/v1/organizations/usage_report/messages?starting_at=${ago(1)}&group_by[]=api_key_id&group_by[]=model`,
      { headers: { 'x-api-key': ADMIN_KEY, 'anthropic-version': '2023-06-01' } },
    ).then((r) => r.json() as Promise<{ data: Array<{ results: Array<Record<string, unknown>> }> }>);
    const results = report.data.flatMap((b) => b.results);
    expect(results).toContainEqual(
      expect.objectContaining({
        model: answer.model,
        uncached_input_tokens: answer.usage.input_tokens,
        output_tokens: answer.usage.output_tokens,
      }),
    );
  });
});

describe('sluice keys audit --upstream', () => {
  it("flags the organization's unused, badly named and unheld keys", async () => {
    const { out, error } = await cli('keys', 'audit', '--upstream', '--unused-days', '30', '--json');
    expect(error).toBeUndefined();
    const audit = JSON.parse(out) as {
      keys: Array<{ name: string; flags: string[]; heldBySluice: boolean }>;
    };
    expect(Object.fromEntries(audit.keys.map((k) => [k.name, k.flags]))).toEqual({
      'prod-gateway-upstream': [],
      'prod-legacy-batch': ['unused', 'not_held'],
      'Marketing Script': ['bad_name', 'not_held'],
      'ci-old-runner': [],
      'dev-fresh-key': ['not_held'],
    });
    expect(audit.keys.find((k) => k.name === 'prod-gateway-upstream')!.heldBySluice).toBe(true);
    expect(out).not.toContain(ADMIN_KEY);
    expect(out).not.toContain(UPSTREAM_KEY);
  });

  it('deactivates nothing without --confirm, and the key stops working with it', async () => {
    const audit = JSON.parse((await cli('keys', 'audit', '--upstream', '--json')).out) as {
      keys: Array<{ id: string; name: string }>;
    };
    const legacy = audit.keys.find((k) => k.name === 'prod-legacy-batch')!;
    const dry = await cli('keys', 'audit', '--upstream', '--deactivate', legacy.id);
    expect(dry.out).toMatch(/^Dry run: would set 1 key\(s\) inactive/);
    await expect(direct(LEGACY_KEY).messages.create(hello)).resolves.toMatchObject({ type: 'message' });

    const done = await cli('keys', 'audit', '--upstream', '--deactivate', legacy.id, '--confirm');
    expect(done.out).toBe(`${legacy.id}: inactive\n`);
    await expect(direct(LEGACY_KEY).messages.create(hello)).rejects.toMatchObject({ status: 401 });
  });

  it('explains a missing admin key, and refuses an admin key as the upstream key', async () => {
    delete process.env.ANTHROPIC_ADMIN_KEY;
    expect((await cli('keys', 'audit', '--upstream')).error?.message).toMatch(
      /ANTHROPIC_ADMIN_KEY is not set/,
    );
    process.env.ANTHROPIC_ADMIN_KEY = ADMIN_KEY;
    process.env.ANTHROPIC_AUTH_TOKEN = ADMIN_KEY;
    expect((await cli('keys', 'audit')).error?.message).toMatch(/Admin API key/);
    process.env.ANTHROPIC_AUTH_TOKEN = UPSTREAM_KEY;
  });
});
