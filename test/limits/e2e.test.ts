import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import type { LimitsSnapshot } from '../../src/limits/limiter.js';
import { redisPrefix, redisUrl } from '../helpers/services.js';
import { type LimitsStack, messagesBody, send, startLimitsStack } from './stack.js';

const ADMIN = { 'x-sluice-admin-token': 'admin-token-for-tests-0123456789' };
const plenty = { itpm: 1_000_000, otpm: 1_000_000 };

async function snapshot(url: string): Promise<LimitsSnapshot> {
  return (await fetch(`${url}/admin/limits`, { headers: ADMIN })).json() as Promise<LimitsSnapshot>;
}

describe('limits through the gateway', () => {
  let stack: LimitsStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('turns 2x overload into queueing and local refusals with zero upstream 429s', async () => {
    stack = await startLimitsStack({
      simulator: { limits: { rpm: 20, ...plenty } },
      limits: { rpm: 20, ...plenty, maxWaitMs: { interactive: 2000, batch: 2000 } },
    });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({ name: 'prod-load-test', environment: 'production' });
    const results = await Promise.all(
      Array.from({ length: 40 }, () => send(gateway.url, key, messagesBody('claude-haiku-4-5'))),
    );
    const statuses = results.map((r) => r.status);
    const ok = statuses.filter((s) => s === 200).length;
    // The bucket's 20, plus what refills while the queue drains (1 every 3 s, within the 2 s wait).
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThanOrEqual(21);
    // Each refusal says when its turn would come: one refill (3 s) per request ahead of it, and
    // with a 2 s wait at most one is queued ahead (6 s). One that queued and reached its deadline
    // just before its turn is told 1 s.
    const retryAfters = results
      .filter((r) => r.status === 429)
      .map((r) => Number(r.headers.get('retry-after')));
    expect(Math.min(...retryAfters)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...retryAfters)).toBeLessThanOrEqual(6);
    expect(retryAfters.filter((s) => s >= 3).length).toBeGreaterThan(retryAfters.length / 2);
    expect(stack.simulator.counters().byStatus['429'] ?? 0).toBe(0);
    expect(stack.simulator.counters().byStatus['200']).toBe(ok);
  });

  it('does not hold Haiku traffic back behind a saturated Opus bucket', async () => {
    stack = await startLimitsStack({
      simulator: { limits: { rpm: 3, ...plenty } },
      limits: { rpm: 3, ...plenty, maxWaitMs: { interactive: 120_000, batch: 120_000 } },
    });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({ name: 'prod-mixed-test', environment: 'production' });
    for (let i = 0; i < 3; i++)
      expect((await send(gateway.url, key, messagesBody('claude-opus-4-5'))).status).toBe(200);
    const opusQueued = send(gateway.url, key, messagesBody('claude-opus-4-5'));
    let opusDone = false;
    void opusQueued.then(
      () => {
        opusDone = true;
      },
      () => undefined,
    );
    while ((await snapshot(gateway.url)).sets.find((s) => s.pool === 'opus-4')?.queue.depth !== 1) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await send(gateway.url, key, messagesBody('claude-haiku-4-5'))).status).toBe(200);
    expect(opusDone).toBe(false);
    const opus = (await snapshot(gateway.url)).sets.find((s) => s.pool === 'opus-4')!;
    expect(opus.queue.depth).toBe(1);
    gateway.server.closeAllConnections();
  });

  it.each([
    // A tier is a guess: the first answer's headers size the burst, so it never overshoots.
    ['a tier far too high', { tier: 'scale' }],
    // Explicit numbers are trusted at once and corrected upward by the first answers.
    ['explicit numbers 2x too low', { rpm: 10, itpm: 30_000, otpm: 10_000 }],
  ])('learns the real limits when configured with %s', async (_label, configured) => {
    const real = { rpm: 20, itpm: 60_000, otpm: 20_000 };
    stack = await startLimitsStack({
      simulator: { limits: real },
      limits: { ...configured, maxWaitMs: { interactive: 1000, batch: 1000 } },
    });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({ name: 'prod-learner-test', environment: 'production' });
    const results = await Promise.all(
      Array.from({ length: 30 }, () => send(gateway.url, key, messagesBody('claude-sonnet-4-5', 200, 300))),
    );
    const [set] = (await snapshot(gateway.url)).sets;
    expect(set!.learned).toBe(true);
    expect(set!.buckets.rpm.limit).toBe(20);
    expect(set!.buckets.itpm.limit).toBe(60_000);
    expect(set!.buckets.otpm.limit).toBe(20_000);
    expect(stack.simulator.counters().byStatus['429'] ?? 0).toBe(0);
    // Configured too low, the learned limit lets the whole real bucket through, not half of it.
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(20);
  });

  it('two instances on one Redis share the upstream limit and a key quota', async () => {
    const prefix = redisPrefix('e2e');
    stack = await startLimitsStack({
      instances: 2,
      simulator: { limits: { rpm: 10, ...plenty } },
      limits: {
        rpm: 10,
        ...plenty,
        maxWaitMs: { interactive: 500, batch: 500 },
        store: { backend: 'redis', url: redisUrl, prefix, failOpen: false },
      },
    });
    const [a, b] = stack.gateways as [
      NonNullable<LimitsStack['gateways'][0]>,
      NonNullable<LimitsStack['gateways'][0]>,
    ];
    const { key } = await a.gateway.keys.create({ name: 'prod-shared-test', environment: 'production' });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        send((i % 2 ? a : b).gateway.url, key, messagesBody('claude-haiku-4-5')),
      ),
    );
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(11);
    expect(stack.simulator.counters().byStatus['429'] ?? 0).toBe(0);

    const quota = await a.gateway.keys.create({ name: 'prod-quota-test', environment: 'production', rpm: 3 });
    const answers = [];
    // Sonnet's upstream bucket is untouched: only the key's own quota can refuse.
    for (const g of [a, b, a, b]) {
      answers.push(await send(g.gateway.url, quota.key, messagesBody('claude-sonnet-4-5')));
    }
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(answers[3]!.headers.get('anthropic-ratelimit-requests-limit')).toBe('3');
  });

  it('answers a key over quota with 429 and retry-after, and the official SDK retries into success', async () => {
    stack = await startLimitsStack({ simulator: {}, limits: { tier: 'scale' } });
    const { gateway } = stack.gateways[0]!;
    const { key } = await gateway.keys.create({
      name: 'prod-quota-test',
      environment: 'production',
      rpm: 20,
    });
    for (let i = 0; i < 20; i++)
      expect((await send(gateway.url, key, messagesBody('claude-haiku-4-5'))).status).toBe(200);
    const refused = await send(gateway.url, key, messagesBody('claude-haiku-4-5'));
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3);
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');

    const statuses: number[] = [];
    const sdk = new Anthropic({
      apiKey: key,
      baseURL: gateway.url,
      maxRetries: 2,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        statuses.push(response.status);
        return response;
      },
    });
    const message = await sdk.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(message.type).toBe('message');
    expect(statuses[0]).toBe(429);
    expect(statuses.at(-1)).toBe(200);
  });
});
