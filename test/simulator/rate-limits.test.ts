import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { ManualClock } from '../../src/simulator/index.js';
import { apiHeaders, longText, send, simulator, testKey, userMessage } from './helpers.js';

const header = (response: { headers: Headers }, name: string) =>
  response.headers.get(`anthropic-ratelimit-${name}`);

describe('rate limits', () => {
  it('admits exactly what the request bucket holds, then 429 with retry-after, then admits again', async () => {
    const clock = new ManualClock();
    const sim = await simulator({ clock, limits: { rpm: 5, itpm: 100_000, otpm: 100_000 } });
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(sim, '/v1/messages', userMessage(`burst ${i}`))),
    );
    const admitted = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status === 429);
    expect(admitted).toHaveLength(5);
    expect(refused).toHaveLength(3);
    expect(admitted.map((r) => Number(header(r, 'requests-remaining'))).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const response of refused) {
      expect(response.json.error.type).toBe('rate_limit_error');
      expect(response.json.error.message).toMatch(/5 requests per minute/);
      expect(response.headers.get('retry-after')).toBe('12'); // one request refills in 60 s / 5
      expect(header(response, 'requests-remaining')).toBe('0');
      expect(header(response, 'requests-limit')).toBe('5');
    }

    clock.advance(11_000);
    const early = await send(sim, '/v1/messages', userMessage('early'));
    expect(early.status).toBe(429);
    expect(early.headers.get('retry-after')).toBe('1');
    clock.advance(1_000);
    const onTime = await send(sim, '/v1/messages', userMessage('on time'));
    expect(onTime.status).toBe(200);
    expect(header(onTime, 'requests-remaining')).toBe('0');
    expect(sim.counters().byStatus).toEqual({ '200': 6, '429': 4 });
  });

  it("lets the SDK wait out a real bucket's retry-after", async () => {
    const sim = await simulator({ limits: { rpm: 30, itpm: 1_000_000, otpm: 1_000_000 } });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => send(sim, '/v1/messages', userMessage(`fill ${i}`))),
    );
    const client = new Anthropic({ apiKey: testKey, baseURL: sim.url, maxRetries: 3 });
    const message = await client.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'after the burst' }],
    });
    expect(message.type).toBe('message');
    const counters = sim.counters();
    expect(counters.byStatus['200']).toBe(31);
    expect(counters.byStatus['429']).toBeGreaterThanOrEqual(1);
  });

  it('charges input and cache writes to ITPM but not cache reads', async () => {
    const clock = new ManualClock();
    const sim = await simulator({
      clock,
      limits: { rpm: 100, itpm: 6_000, otpm: 100_000 },
      roundRateLimitHeaders: false,
    });
    const body = {
      model: 'claude-sonnet-4-6',
      max_tokens: 20,
      system: [{ type: 'text', text: longText(2000), cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Q?' }],
    };
    const first = await send(sim, '/v1/messages', body);
    expect(first.status).toBe(200);
    const charged = first.json.usage.input_tokens + first.json.usage.cache_creation_input_tokens;
    expect(Number(header(first, 'input-tokens-remaining'))).toBe(6_000 - charged);

    const cached = await send(sim, '/v1/messages', body);
    expect(cached.status).toBe(200);
    expect(cached.json.usage.cache_read_input_tokens).toBeGreaterThan(4000);
    expect(Number(header(cached, 'input-tokens-remaining'))).toBe(
      6_000 - charged - cached.json.usage.input_tokens,
    );

    const uncached = await send(sim, '/v1/messages', { ...body, model: 'claude-sonnet-4-5' });
    expect(uncached.status).toBe(429);
    expect(uncached.json.error.message).toMatch(/6,000 input tokens per minute/);
    expect(Number(uncached.headers.get('retry-after'))).toBeGreaterThan(1);
  });

  it('reserves max_tokens of OTPM at admission and gives back the unused part at the end', async () => {
    const clock = new ManualClock();
    const sim = await simulator({
      clock,
      limits: { rpm: 100, itpm: 100_000, otpm: 1_000 },
      roundRateLimitHeaders: false,
    });
    const first = await send(sim, '/v1/messages', userMessage('one', { max_tokens: 800 }));
    expect(first.status).toBe(200);
    expect(header(first, 'output-tokens-remaining')).toBe('200');
    const produced = first.json.usage.output_tokens;

    // A stalled stream holds its reservation until it ends.
    sim.faults.script([{ kind: 'stall', afterEvents: 1 }]);
    const controller = new AbortController();
    const stalled = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: apiHeaders,
      body: JSON.stringify(userMessage('two', { max_tokens: 800, stream: true })),
      signal: controller.signal,
    });
    expect(header(stalled, 'output-tokens-remaining')).toBe(String(1_000 - produced - 800));
    const refused = await send(sim, '/v1/messages', userMessage('three', { max_tokens: 800 }));
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toMatch(/1,000 output tokens per minute/);

    controller.abort();
    await expect.poll(() => sim.counters().inFlight).toBe(0);
    const after = await send(sim, '/v1/messages', userMessage('four', { max_tokens: 800 }));
    expect(after.status).toBe(200);
  });

  it('rounds token remaining headers to thousands unless told not to, and reports tier limits', async () => {
    const sim = await simulator({ tier: 'start' });
    const catalog = defaultCatalog();
    const haiku = await send(sim, '/v1/messages', userMessage('hi'));
    const limits = catalog.tierLimits('start', 'haiku-4-5');
    expect(header(haiku, 'input-tokens-limit')).toBe(String(limits.itpm));
    expect(header(haiku, 'input-tokens-remaining')).toBe(String(limits.itpm));
    expect(header(haiku, 'requests-remaining')).toBe(String(limits.rpm - 1));
    expect(header(haiku, 'requests-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const sonnet = await send(sim, '/v1/messages', userMessage('hi', { model: 'claude-sonnet-4-6' }));
    expect(header(sonnet, 'output-tokens-limit')).toBe(String(catalog.tierLimits('start', 'sonnet-4').otpm));

    const exact = await simulator({ tier: 'start', roundRateLimitHeaders: false });
    const response = await send(exact, '/v1/messages', userMessage('hi'));
    expect(Number(header(response, 'input-tokens-remaining'))).toBe(
      limits.itpm - response.json.usage.input_tokens,
    );
  });

  it('applies new limits set at run time, over HTTP too', async () => {
    const sim = await simulator();
    const set = await fetch(`${sim.url}/_sim/limits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rpm: 1, itpm: 10_000, otpm: 10_000 }),
    });
    expect(set.status).toBe(200);
    expect((await send(sim, '/v1/messages', userMessage('a'))).status).toBe(200);
    expect((await send(sim, '/v1/messages', userMessage('b'))).status).toBe(429);
    sim.setLimits({ tier: 'build' });
    expect((await send(sim, '/v1/messages', userMessage('c'))).status).toBe(200);
  });
});

describe('monthly spend cap', () => {
  it('answers 429 enforced_spend_limit_reached without retry-after, until the month turns', async () => {
    const clock = new ManualClock(Date.parse('2026-03-31T23:00:00Z'));
    const sim = await simulator({ clock, monthlySpendCapUsd: 0.001 });
    const body = userMessage(longText(400), { model: 'claude-opus-4-5' });
    expect((await send(sim, '/v1/messages', body)).status).toBe(200);
    expect(Number(sim.counters().spendUsd)).toBeGreaterThan(0.001);
    const capped = await send(sim, '/v1/messages', body);
    expect(capped.status).toBe(429);
    expect(capped.json.error.type).toBe('rate_limit_error');
    expect(capped.json.error.details).toEqual({ error_code: 'enforced_spend_limit_reached' });
    expect(capped.json.error.message).toMatch(/2026-04-01/);
    expect(capped.headers.get('retry-after')).toBeNull();

    clock.advance(60 * 60_000);
    expect((await send(sim, '/v1/messages', body)).status).toBe(200);
    sim.setSpendCap(undefined);
    expect((await send(sim, '/v1/messages', body)).status).toBe(200);
  });
});
