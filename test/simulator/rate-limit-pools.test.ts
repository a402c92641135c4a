import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { ManualClock } from '../../src/simulator/index.js';
import { send, simulator, userMessage } from './helpers.js';

const catalog = defaultCatalog();

describe('rate-limit pools in the simulator', () => {
  it('keeps one bucket set per pool: a spent Opus 5.5 leaves Opus 5 and Sonnet 5.5 untouched', async () => {
    const sim = await simulator({
      clock: new ManualClock(),
      limits: { rpm: 2, itpm: 100_000, otpm: 100_000 },
    });
    const ask = (model: string) => send(sim, '/v1/messages', userMessage('hi', { model }));
    expect((await ask('claude-opus-5-5')).status).toBe(200);
    expect((await ask('claude-opus-5-5')).status).toBe(200);
    expect((await ask('claude-opus-5-5')).status).toBe(429);
    for (const model of ['claude-opus-5', 'claude-sonnet-5-5']) {
      const answer = await ask(model);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('anthropic-ratelimit-requests-remaining')).toBe('1');
    }
  });

  it("sizes each pool from the tier's own figures", async () => {
    const sim = await simulator({ tier: 'build' });
    const fable = await send(sim, '/v1/messages', userMessage('hi', { model: 'claude-fable-5-2' }));
    const opus = await send(sim, '/v1/messages', userMessage('hi', { model: 'claude-opus-5' }));
    expect(fable.headers.get('anthropic-ratelimit-requests-limit')).toBe(
      String(catalog.tierLimits('build', 'fable').rpm),
    );
    expect(opus.headers.get('anthropic-ratelimit-requests-limit')).toBe(
      String(catalog.tierLimits('build', 'opus-5').rpm),
    );
    expect(fable.headers.get('anthropic-ratelimit-requests-limit')).not.toBe(
      opus.headers.get('anthropic-ratelimit-requests-limit'),
    );
  });

  it('counts fast-mode requests in their own buckets and reports them as anthropic-fast-*', async () => {
    const sim = await simulator({
      clock: new ManualClock(),
      tier: 'start',
      roundRateLimitHeaders: false,
    });
    const fastLimits = catalog.tierLimits('start', 'opus-5-5', true);
    const standard = await send(sim, '/v1/messages', userMessage('hi', { model: 'claude-opus-5-5' }));
    expect(standard.headers.get('anthropic-fast-input-tokens-limit')).toBeNull();
    const standardRemaining = Number(standard.headers.get('anthropic-ratelimit-input-tokens-remaining'));

    const fast = await send(
      sim,
      '/v1/messages',
      userMessage('hi', { model: 'claude-opus-5-5', speed: 'fast' }),
    );
    expect(fast.status).toBe(200);
    expect(fast.headers.get('anthropic-fast-input-tokens-limit')).toBe(String(fastLimits.itpm));
    expect(fast.headers.get('anthropic-fast-output-tokens-limit')).toBe(String(fastLimits.otpm));
    expect(Number(fast.headers.get('anthropic-fast-input-tokens-remaining'))).toBe(
      fastLimits.itpm - fast.json.usage.input_tokens,
    );
    expect(fast.headers.get('anthropic-fast-output-tokens-reset')).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    // The pool's standard buckets, beside them, were not drawn from.
    expect(Number(fast.headers.get('anthropic-ratelimit-input-tokens-remaining'))).toBe(standardRemaining);

    // Accepted but ignored (answered at standard speed): standard buckets, standard headers only.
    const ignored = await send(
      sim,
      '/v1/messages',
      userMessage('hi', { model: 'claude-opus-4-6', speed: 'fast' }),
    );
    expect(ignored.status).toBe(200);
    expect(ignored.headers.get('anthropic-fast-input-tokens-limit')).toBeNull();
  });

  it('refuses a fast request over the fast limits with 429 while standard requests still go', async () => {
    const sim = await simulator({
      clock: new ManualClock(),
      limits: { rpm: 1, itpm: 100_000, otpm: 100_000 },
    });
    const fast = userMessage('hi', { model: 'claude-opus-5-5', speed: 'fast' });
    expect((await send(sim, '/v1/messages', fast)).status).toBe(200);
    const refused = await send(sim, '/v1/messages', fast);
    expect(refused.status).toBe(429);
    expect(refused.json.error.type).toBe('rate_limit_error');
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.headers.get('anthropic-fast-input-tokens-limit')).toBe('100000');
    expect((await send(sim, '/v1/messages', userMessage('hi', { model: 'claude-opus-5-5' }))).status).toBe(
      200,
    );
  });
});
