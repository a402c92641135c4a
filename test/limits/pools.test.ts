import { afterEach, describe, expect, it } from 'vitest';
import type { LimitsSnapshot } from '../../src/limits/limiter.js';
import { type LimitsStack, messagesBody, send, startLimitsStack } from './stack.js';

const ADMIN = { 'x-sluice-admin-token': 'admin-token-for-tests-0123456789' };

async function snapshot(url: string): Promise<LimitsSnapshot> {
  return (await fetch(`${url}/admin/limits`, { headers: ADMIN })).json() as Promise<LimitsSnapshot>;
}

/** A streamed request: resolves when the response headers arrive, the body still flowing. */
function stream(
  url: string,
  key: string,
  model: string,
  extra: Record<string, unknown> = {},
): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key },
    body: JSON.stringify({
      model,
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'Tell me a long story about rivers.' }],
      ...extra,
    }),
  });
}

describe('rate-limit pools through the gateway', () => {
  let stack: LimitsStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it.each([
    ['explicit SLUICE_RPM/ITPM/OTPM', { SLUICE_RPM: '100', SLUICE_ITPM: '1000000', SLUICE_OTPM: '1000000' }],
    ['a tier only (SLUICE_TIER)', { SLUICE_TIER: 'scale' }],
  ])('a slow first stream on a cold gateway does not hold its pool (%s)', async (_label, env) => {
    // About 3 s per answer: 60 tokens at 20 per second, headers and message_start at once.
    stack = await startLimitsStack({
      simulator: { latency: { ttftMs: 100, tokensPerSecond: 20 }, outputTokens: 60 },
      limits: {},
      env,
    });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({ name: 'prod-cold-start', environment: 'production' });
    const first = stream(gateway.url, key, 'claude-sonnet-5-5');
    let firstEnded = false;
    const firstBody = first
      .then((r) => r.text())
      .then(() => {
        firstEnded = true;
      });
    const others = await Promise.all(
      Array.from({ length: 5 }, () => stream(gateway.url, key, 'claude-sonnet-5-5')),
    );
    // All answered (headers in hand) while the first stream is still being generated.
    expect(others.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await first).status).toBe(200);
    expect(firstEnded).toBe(false);
    const [set] = (await snapshot(gateway.url)).sets;
    expect(set).toMatchObject({ pool: 'sonnet-5-5', speed: 'standard', probe: 'done' });
    await Promise.all([firstBody, ...others.map((r) => r.text())]);
    expect(stack.simulator.counters().byStatus['429'] ?? 0).toBe(0);
  });

  it('saturating Opus 5.5 does not delay Sonnet 5.5', async () => {
    stack = await startLimitsStack({
      simulator: { limits: { rpm: 3, itpm: 1_000_000, otpm: 1_000_000 } },
      limits: { tier: 'scale', maxWaitMs: { interactive: 120_000, batch: 120_000 } },
    });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({ name: 'prod-two-pools', environment: 'production' });
    for (let i = 0; i < 3; i++)
      expect((await send(gateway.url, key, messagesBody('claude-opus-5-5'))).status).toBe(200);
    const opusQueued = send(gateway.url, key, messagesBody('claude-opus-5-5'));
    void opusQueued.catch(() => undefined);
    const opusSet = async () => (await snapshot(gateway.url)).sets.find((s) => s.pool === 'opus-5-5');
    while ((await opusSet())?.queue.depth !== 1) await new Promise((r) => setTimeout(r, 10));
    // Learned from the first answer: Opus 5.5's three requests a minute are spent.
    expect((await opusSet())!.buckets.rpm.limit).toBe(3);
    for (let i = 0; i < 3; i++)
      expect((await send(gateway.url, key, messagesBody('claude-sonnet-5-5'))).status).toBe(200);
    expect((await opusSet())!.queue.depth).toBe(1);
    expect(stack.simulator.counters().byStatus['429'] ?? 0).toBe(0);
    gateway.server.closeAllConnections();
  });

  it('admits fast-mode requests against their own buckets, learned from anthropic-fast-*', async () => {
    stack = await startLimitsStack({
      simulator: { limits: { rpm: 2, itpm: 40_000, otpm: 9_000 }, roundRateLimitHeaders: false },
      limits: { tier: 'start', maxWaitMs: { interactive: 120_000, batch: 120_000 } },
    });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({ name: 'prod-fast-mode', environment: 'production' });
    const fast = JSON.stringify({ ...JSON.parse(messagesBody('claude-opus-5-5')), speed: 'fast' });
    for (let i = 0; i < 2; i++)
      expect((await send(gateway.url, key, messagesBody('claude-opus-5-5'))).status).toBe(200);
    // Standard Opus 5.5 is spent for half a minute; fast mode is not.
    const fastAnswers = [await send(gateway.url, key, fast), await send(gateway.url, key, fast)];
    expect(fastAnswers.map((r) => r.status)).toEqual([200, 200]);
    expect(fastAnswers[0]!.headers.get('anthropic-fast-input-tokens-limit')).toBe('40000');
    const sets = (await snapshot(gateway.url)).sets;
    const fastSet = sets.find((s) => s.pool === 'opus-5-5' && s.speed === 'fast')!;
    expect(fastSet.learned).toBe(true);
    expect(fastSet.buckets.itpm.limit).toBe(40_000);
    expect(fastSet.buckets.otpm.limit).toBe(9_000);
    // No fast requests header exists: the fast RPM stays the tier's figure.
    expect(fastSet.buckets.rpm.limit).toBe(1000);
    // A model where fast mode is accepted but ignored runs at standard speed, in standard buckets.
    expect(
      (await send(gateway.url, key, JSON.stringify({ ...JSON.parse(fast), model: 'claude-opus-4-6' })))
        .status,
    ).toBe(200);
    const after = (await snapshot(gateway.url)).sets;
    expect(after.filter((s) => s.speed === 'fast').map((s) => s.pool)).toEqual(['opus-5-5']);
    expect(stack.simulator.counters().byStatus['429'] ?? 0).toBe(0);
  });
});
