import Anthropic from '@anthropic-ai/sdk';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcomeOf } from '../../src/ledger/activity.js';
import { type Stack, startStack } from '../helpers/stack.js';

const TOKEN = 'admin-token-for-tests-0123456789';
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.close());

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read field by field in the assertions.
type Json = any;

async function admin(path: string): Promise<{ status: number; body: Json }> {
  const response = await request(`${stack.gateway.url}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: response.statusCode, body: await response.body.json() };
}

/** Reads an endpoint until `done` holds (ledger rows are written a moment after the answer). */
async function until(path: string, done: (body: Json) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { body } = await admin(path);
    if (done(body) || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 20,
  messages: [{ role: 'user' as const, content: 'hello' }],
};

describe('outcomes', () => {
  it('keep the upstream apart from Sluice', () => {
    expect(outcomeOf(200, 200)).toBe('ok');
    expect(outcomeOf(429, 429)).toBe('upstream_429');
    expect(outcomeOf(529, 529)).toBe('upstream_529');
    expect(outcomeOf(502, 500)).toBe('upstream_error');
    expect(outcomeOf(429, null)).toBe('refused_rate_limit');
    expect(outcomeOf(400, null)).toBe('refused_policy');
    expect(outcomeOf(503, null)).toBe('refused_unavailable');
    expect(outcomeOf(499, null)).toBe('client_closed');
  });
});

describe('activity endpoints of the admin API', () => {
  it('count answered requests, upstream 429s and local refusals apart, with the spend per step', async () => {
    const client = stack.sdk();
    await client.messages.create(ask);
    await client.messages.create(ask);
    // A 429 storm: every attempt of one request (the gateway tries 4 times) is refused upstream.
    stack.simulator.faults.script([1, 2, 3, 4].map(() => ({ status: 429, retryAfter: 0 })));
    await expect(client.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    // A key with a quota of one request a minute: its second request is Sluice's own refusal.
    const { key } = await stack.gateway.keys.create({
      name: 'prod-quota-one',
      environment: 'production',
      rpm: 1,
    });
    const limited = stack.sdk({ apiKey: key });
    await limited.messages.create(ask);
    await expect(limited.messages.create(ask)).rejects.toBeInstanceOf(Anthropic.RateLimitError);

    const activity = await until('/admin/requests/activity?since=1h', (b) => b.totals.requests >= 5);
    expect(activity.totals).toMatchObject({
      requests: 5,
      ok: 3,
      upstream_429: 1,
      upstream_529: 0,
      refused_rate_limit: 1,
      retries: 3,
    });
    expect(activity.series.upstream_429.reduce((a: number, b: number) => a + b, 0)).toBe(1);
    expect(activity.steps.length).toBe(activity.series.ok.length);
    expect(activity.step_ms).toBe(60_000);

    const spend = (await admin('/admin/spend?since=1h&by=key')).body;
    const series = (await admin('/admin/spend/series?since=1h&by=key')).body;
    const sum = (points: string[]) => points.reduce((a, b) => a + Math.round(Number(b) * 1e6), 0);
    expect(series.series.map((s: Json) => s.name).sort()).toEqual(['prod-backend-v1', 'prod-quota-one']);
    for (const s of series.series) {
      const group = spend.groups.find((g: Json) => g.group === s.group);
      expect(s.cost_usd).toBe(group.cost_usd);
      expect(sum(s.points)).toBe(Math.round(Number(group.cost_usd) * 1e6));
    }

    const recent = (await admin('/admin/requests/recent?limit=3')).body.data;
    expect(recent.map((r: Json) => r.outcome)).toEqual(['refused_rate_limit', 'ok', 'upstream_429']);
    expect(recent[2]).toMatchObject({
      key_name: 'prod-backend-v1',
      status: 429,
      upstream_status: 429,
      retries: 3,
    });
    expect(JSON.stringify(recent)).not.toContain('hello');
    expect(JSON.stringify(recent)).not.toContain(key);
  });

  it('refuses bad parameters in the error shape', async () => {
    for (const path of [
      '/admin/spend/series?by=colour',
      '/admin/spend/series?since=forever',
      '/admin/requests/activity?since=1h&step=1s',
      '/admin/requests/recent?limit=0',
      '/admin/requests/recent?limit=9999',
    ]) {
      const { status, body } = await admin(path);
      expect(status, path).toBe(400);
      expect(body.error.type).toBe('invalid_request_error');
    }
  });
});
