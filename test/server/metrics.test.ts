import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call } from '../../src/pipeline/types.js';
import { Metrics, OTHER_KEYS } from '../../src/server/metrics.js';
import { type Stack, startStack } from '../helpers/stack.js';

interface Family {
  name: string;
  type: string;
  metrics: Array<{ labels?: Record<string, string>; value?: string }>;
}

/** The exposition through a Prometheus text-format parser: it throws on anything malformed. */
async function scrape(url: string): Promise<Map<string, Family> & { text: string }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const families = parsePrometheusTextFormat(text) as Family[];
  return Object.assign(new Map(families.map((family) => [family.name, family])), { text });
}

/** A histogram's observation count for one label set (the parser folds labelled histograms). */
function histogramCount(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}_count{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The sum of a family's samples whose labels include `match`. */
function sum(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) return 0;
  let total = 0;
  for (const metric of family.metrics) {
    const labels = metric.labels ?? {};
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) total += Number(metric.value ?? 0);
  }
  return total;
}

let stack: Stack;
beforeAll(async () => {
  // Retries on: a scripted 429 is retried, and both attempts must be counted.
  stack = await startStack({ yaml: { limits: { enabled: false } } });
});
afterAll(() => stack.close());

const ask = {
  model: 'claude-haiku-4-5',
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
};

async function post(body: unknown, key = stack.key) {
  const response = await request(`${stack.gateway.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key },
    body: JSON.stringify(body),
  });
  await response.body.text();
  return response.statusCode;
}

describe('/metrics after a known workload', () => {
  it('shows the exact counts sent, with upstream 429s apart from local refusals', async () => {
    const before = await scrape(stack.gateway.url);
    const model = 'claude-haiku-4-5-20251001';
    const base = {
      ok: sum(before, 'sluice_requests_total', { route: '/v1/messages', status_class: '2xx', model }),
      key: sum(before, 'sluice_key_requests_total', { key: 'prod-backend-v1', status_class: '2xx' }),
      auth: sum(before, 'sluice_refusals_total', { type: 'authentication_error' }),
      upstream429: sum(before, 'sluice_upstream_responses_total', { code: '429' }),
      client429: sum(before, 'sluice_requests_total', { status_class: '4xx', model }),
      output: sum(before, 'sluice_tokens_total', { kind: 'output', model }),
      cost: sum(before, 'sluice_cost_usd_total', { model }),
      ttft: histogramCount(before.text, 'sluice_time_to_first_token_seconds', `model="${model}"`),
    };

    // 5 answered, 2 of them streamed.
    const sdk = stack.sdk();
    let outputTokens = 0;
    let costUsd = 0;
    for (let i = 0; i < 3; i++) {
      const { data, response } = await sdk.messages.create(ask).withResponse();
      outputTokens += data.usage.output_tokens;
      costUsd += Number(response.headers.get('x-sluice-cost-usd'));
    }
    for (let i = 0; i < 2; i++) {
      const message = await sdk.messages.stream(ask).finalMessage();
      outputTokens += message.usage.output_tokens;
    }
    // 3 refused by Sluice itself (unknown key): never upstream.
    for (let i = 0; i < 3; i++) expect(await post(ask, 'sk-sluice-not-a-real-key')).toBe(401);
    // A 429 storm: 4 upstream 429s with a retry-after too long to wait, so each reaches the client.
    stack.simulator.faults.script(Array.from({ length: 4 }, () => ({ status: 429, retryAfter: 600 })));
    for (let i = 0; i < 4; i++) expect(await post(ask)).toBe(429);
    stack.simulator.faults.clear();

    const after = await scrape(stack.gateway.url);
    expect(
      sum(after, 'sluice_requests_total', { route: '/v1/messages', status_class: '2xx', model }) - base.ok,
    ).toBe(5);
    expect(
      sum(after, 'sluice_key_requests_total', { key: 'prod-backend-v1', status_class: '2xx' }) - base.key,
    ).toBe(5);
    expect(sum(after, 'sluice_refusals_total', { type: 'authentication_error' }) - base.auth).toBe(3);
    expect(sum(after, 'sluice_upstream_responses_total', { code: '429' }) - base.upstream429).toBe(4);
    // The upstream's 429s are not Sluice's refusals.
    expect(sum(after, 'sluice_refusals_total', { type: 'rate_limit_error' })).toBe(
      sum(before, 'sluice_refusals_total', { type: 'rate_limit_error' }),
    );
    expect(sum(after, 'sluice_requests_total', { status_class: '4xx', model }) - base.client429).toBe(4);
    expect(sum(after, 'sluice_tokens_total', { kind: 'output', model }) - base.output).toBe(outputTokens);
    expect(
      histogramCount(after.text, 'sluice_time_to_first_token_seconds', `model="${model}"`) - base.ttft,
    ).toBe(2);
    // The three JSON answers' cost headers are part of the cost counter (streams add theirs).
    expect(sum(after, 'sluice_cost_usd_total', { model }) - base.cost).toBeGreaterThan(costUsd * 0.999);

    // Prometheus naming: counters end in _total, units in names, no per-request ids in labels.
    for (const family of after.values()) {
      if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
      for (const metric of family.metrics) {
        for (const value of Object.values(metric.labels ?? {})) expect(value).not.toMatch(/^(req|msg)_/);
      }
    }
    for (const name of [
      'sluice_request_duration_seconds',
      'sluice_cost_usd_total',
      'sluice_limits_queue_wait_seconds',
    ])
      expect(after.has(name)).toBe(true);
  });
});

describe('label cardinality', () => {
  it('stays bounded with 10,000 keys', async () => {
    const metrics = new Metrics({ keyLabelLimit: 50 });
    for (let i = 0; i < 10_000; i++) {
      const call = {
        id: `req_${i}`,
        path: '/v1/messages',
        receivedAt: 0,
        finishedAt: 5,
        status: 200,
        body: { model: 'claude-haiku-4-5', messages: [] },
        principal: { keyId: `key_${i}`, name: `prod-app-${i}`, environment: 'production' },
      } as unknown as Call;
      metrics.observe(call);
    }
    const families = parsePrometheusTextFormat(await metrics.registry.metrics()) as Family[];
    const keyed = families.find((f) => f.name === 'sluice_key_requests_total')!;
    expect(keyed.metrics).toHaveLength(51);
    const other = keyed.metrics.find((m) => m.labels?.key === OTHER_KEYS)!;
    expect(Number(other.value)).toBe(10_000 - 50);
    const series = families.reduce((n, f) => n + f.metrics.length, 0);
    expect(series).toBeLessThan(120);
  });
});
