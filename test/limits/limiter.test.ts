import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Catalog, defaultCatalog } from '../../src/catalog/catalog.js';
import {
  type Admission,
  type AdmitInput,
  Limiter,
  type LimiterOptions,
  type Refusal,
} from '../../src/limits/limiter.js';
import type { LimitsLogger } from '../../src/limits/logger.js';
import { RedisBucketStore } from '../../src/limits/redis-store.js';
import type { Usage } from '../../src/pipeline/types.js';
import { redisPrefix, redisUrl } from '../helpers/services.js';

const quiet: LimitsLogger = { warn: () => undefined, info: () => undefined };

function limiter(options: LimiterOptions = {}): Limiter {
  return new Limiter({ logger: quiet, probeUnlearned: false, ...options });
}

function request(overrides: Partial<AdmitInput> = {}): AdmitInput {
  return {
    credentialId: 'cred',
    pool: 'sonnet-5-5',
    tokenizer: 'claude-v1',
    keyId: 'k1',
    environment: 'prod',
    priority: 'interactive',
    estimatedInputTokens: 100,
    maxTokens: 100,
    ...overrides,
  };
}

function usage(input: number, output: number, extra: Partial<Usage> = {}): Usage {
  return {
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...extra,
  };
}

function admitted(result: Admission | Refusal): Admission {
  if (!result.admitted) throw new Error(`refused: ${result.reason} ${result.message}`);
  return result;
}

function refused(result: Admission | Refusal): Refusal {
  if (result.admitted) throw new Error('admitted');
  return result;
}

/** Lets pending promise callbacks run without moving time. */
async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

/** Resolves to the outcome, or 'pending' if the promise has not settled by now. */
async function state<T>(promise: T | Promise<T>): Promise<T | 'pending'> {
  return Promise.race([promise, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('limiter with fake time', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a key over its rpm quota with an exact retry-after and quota headers', async () => {
    const limits = limiter({ config: { tier: 'scale' } });
    const input = request({ quotas: { rpm: 2 } });
    admitted(await limits.admit(input));
    await vi.advanceTimersByTimeAsync(6000);
    admitted(await limits.admit(input));
    const refusal = refused(await limits.admit(input));
    expect(refusal).toMatchObject({ reason: 'key_quota', status: 429, errorType: 'rate_limit_error' });
    // Two per minute refill one every 30 s; 6 s have passed since the first, so 24 s remain.
    expect(refusal.retryAfterSeconds).toBe(24);
    expect(refusal.headers).toMatchObject({
      'retry-after': '24',
      'retry-after-ms': '24000',
      'anthropic-ratelimit-requests-limit': '2',
      'anthropic-ratelimit-requests-remaining': '0',
    });
    expect(Date.parse(refusal.headers['anthropic-ratelimit-requests-reset']!)).toBeGreaterThan(
      Date.now() + 24_000,
    );
    await vi.advanceTimersByTimeAsync(24_000);
    admitted(await limits.admit(input));
  });

  it('counts input and output against tpm, returning what was reserved but not used', async () => {
    const limits = limiter({ config: { tier: 'scale' } });
    const input = request({ quotas: { tpm: 1000 }, estimatedInputTokens: 300, maxTokens: 400 });
    const first = admitted(await limits.admit(input));
    // 700 reserved of 1000: a second identical request does not fit ...
    expect(refused(await limits.admit(input)).headers['anthropic-ratelimit-tokens-remaining']).toBe('300');
    // ... until the first settles having used 250 tokens in all (300 + 450 returned ≥ 700).
    await first.settle(usage(200, 50));
    admitted(await limits.admit(input));
  });

  it('describes the environment quota when that is what blocks', async () => {
    const limits = limiter({ config: { tier: 'scale', environments: { prod: { rpm: 1 } } } });
    admitted(await limits.admit(request({ keyId: 'a' })));
    const refusal = refused(await limits.admit(request({ keyId: 'b' })));
    expect(refusal.reason).toBe('environment_quota');
    expect(refusal.retryAfterSeconds).toBe(60);
  });

  it('queues a request until the upstream bucket refills, waking on a timer', async () => {
    const limits = limiter({
      config: { rpm: 2, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 60_000, batch: 60_000 } },
    });
    admitted(await limits.admit(request()));
    admitted(await limits.admit(request()));
    const waiting = limits.admit(request());
    expect(await state(waiting)).toBe('pending');
    expect((await limits.snapshot()).sets[0]!.queue.depth).toBe(1);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(await state(waiting)).toBe('pending');
    await vi.advanceTimersByTimeAsync(1_100);
    expect(admitted(await waiting).waitedMs).toBeGreaterThanOrEqual(30_000);
    expect((await limits.snapshot()).sets[0]!.queue.depth).toBe(0);
  });

  it('wakes a waiter as soon as a reservation is released', async () => {
    const limits = limiter({ config: { rpm: 1000, itpm: 1000, otpm: 100_000 } });
    const first = admitted(await limits.admit(request({ estimatedInputTokens: 900 })));
    const waiting = limits.admit(request({ estimatedInputTokens: 900, maxWaitMs: 120_000 }));
    expect(await state(waiting)).toBe('pending');
    await first.release();
    expect(admitted((await state(waiting)) as Admission).waitedMs).toBe(0);
  });

  it('admits interactive before batch, then in arrival order', async () => {
    const limits = limiter({
      config: { rpm: 1, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 600_000, batch: 600_000 } },
    });
    admitted(await limits.admit(request()));
    const order: string[] = [];
    const track = (name: string, p: Admission | Refusal | Promise<Admission | Refusal>) =>
      Promise.resolve(p).then((r) => order.push(`${name}:${r.admitted}`));
    const all: Array<Promise<unknown>> = [];
    for (const [name, priority] of [
      ['batch1', 'batch'],
      ['batch2', 'batch'],
      ['interactive1', 'interactive'],
    ] as const) {
      all.push(track(name, limits.admit(request({ priority }))));
      await flush();
    }
    await vi.advanceTimersByTimeAsync(181_000);
    await Promise.all(all);
    expect(order).toEqual(['interactive1:true', 'batch1:true', 'batch2:true']);
  });

  it('refuses at once when the predicted wait exceeds the maximum, with that wait as retry-after', async () => {
    const limits = limiter({
      config: { rpm: 6, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 15_000, batch: 60_000 } },
    });
    for (let i = 0; i < 6; i++) admitted(await limits.admit(request()));
    const first = limits.admit(request()); // 10 s: allowed to wait
    await flush();
    const tooLong = refused(await limits.admit(request())); // behind it: 20 s
    expect(tooLong.reason).toBe('wait_too_long');
    expect(tooLong.retryAfterSeconds).toBe(20);
    // A batch request may wait longer, so it queues.
    const batch = limits.admit(request({ priority: 'batch' }));
    await vi.advanceTimersByTimeAsync(20_100);
    admitted(await first);
    admitted(await batch);
  });

  it('refuses a waiter whose deadline passes because higher priority work went first', async () => {
    const limits = limiter({
      config: { rpm: 6, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 60_000, batch: 15_000 } },
    });
    for (let i = 0; i < 6; i++) admitted(await limits.admit(request()));
    const batch = limits.admit(request({ priority: 'batch' }));
    await flush();
    const interactive = [limits.admit(request()), limits.admit(request())];
    await vi.advanceTimersByTimeAsync(15_000);
    const timedOut = refused(await batch);
    expect(timedOut.reason).toBe('queue_timeout');
    expect(timedOut.retryAfterSeconds).toBe(15); // behind the second interactive request, due at 20 s
    await vi.advanceTimersByTimeAsync(5_100);
    for (const p of interactive) admitted(await p);
  });

  it('removes a waiter whose client aborts and lets the next one through', async () => {
    const limits = limiter({
      config: { rpm: 1, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 600_000, batch: 600_000 } },
    });
    admitted(await limits.admit(request()));
    const controller = new AbortController();
    const abandoned = limits.admit(request({ signal: controller.signal }));
    await flush();
    const next = limits.admit(request());
    await vi.advanceTimersByTimeAsync(1000);
    controller.abort();
    expect(refused(await abandoned)).toMatchObject({ reason: 'client_aborted', status: 499 });
    await vi.advanceTimersByTimeAsync(59_100);
    expect(admitted(await next).waitedMs).toBeGreaterThanOrEqual(60_000);
  });

  it('bounds the queue', async () => {
    const limits = limiter({
      config: {
        rpm: 1,
        itpm: 100_000,
        otpm: 100_000,
        maxQueueLength: 2,
        maxWaitMs: { interactive: 600_000, batch: 600_000 },
      },
    });
    admitted(await limits.admit(request()));
    void limits.admit(request());
    await flush();
    void limits.admit(request());
    await flush();
    const full = refused(await limits.admit(request()));
    expect(full.reason).toBe('queue_full');
    expect(full.retryAfterSeconds).toBe(180);
    limits.close();
  });

  it('does not hold one pool back behind another, even of the same family', async () => {
    const limits = limiter({
      config: { rpm: 1, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 600_000, batch: 600_000 } },
    });
    admitted(await limits.admit(request({ pool: 'opus-5-5' })));
    const opusWaiting = limits.admit(request({ pool: 'opus-5-5' }));
    expect(await state(opusWaiting)).toBe('pending');
    expect(admitted(await limits.admit(request({ pool: 'opus-5' }))).waitedMs).toBe(0);
    expect(admitted(await limits.admit(request({ pool: 'haiku-5-5' }))).waitedMs).toBe(0);
    limits.close();
  });

  it('learns limits and remaining from response headers and pauses on a 429', async () => {
    const limits = limiter({ config: { rpm: 100, itpm: 60_000, otpm: 16_000 } });
    const first = admitted(await limits.admit(request()));
    await first.observeResponse(
      {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '49',
        'anthropic-ratelimit-input-tokens-limit': '30000',
        'anthropic-ratelimit-input-tokens-remaining': '12000',
        'anthropic-ratelimit-output-tokens-limit': '8000',
        'anthropic-ratelimit-output-tokens-remaining': '8000',
      },
      200,
    );
    const { buckets } = (await limits.snapshot()).sets[0]!;
    expect(buckets.rpm).toMatchObject({ limit: 50, remaining: 49 });
    expect(buckets.itpm).toMatchObject({ limit: 30_000, remaining: 11_500 });
    // A round thousand may have been rounded up by as much as 500: assume the worst.
    expect(buckets.otpm).toMatchObject({ limit: 8000, remaining: 7500 });

    const second = admitted(await limits.admit(request()));
    await second.observeResponse({ 'retry-after': '7', 'anthropic-ratelimit-requests-remaining': '0' }, 429);
    const paused = limits.admit(request({ maxWaitMs: 60_000 }));
    await vi.advanceTimersByTimeAsync(6_900);
    expect(await state(paused)).toBe('pending');
    await vi.advanceTimersByTimeAsync(200);
    admitted(await paused);
  });

  it('dates a remaining figure by its reset time, not by the admission (never ahead of upstream)', async () => {
    vi.setSystemTime(Date.parse('2026-01-01T00:00:00Z'));
    const limits = limiter({ config: { rpm: 60, itpm: 100_000, otpm: 100_000 } });
    const first = admitted(await limits.admit(request()));
    // Counted upstream 1 s after its admission here (it queued on the way), answered 2 s after.
    await vi.advanceTimersByTimeAsync(2000);
    const upstreamRead = Date.parse('2026-01-01T00:00:01Z');
    await first.observeResponse(
      {
        'anthropic-ratelimit-requests-limit': '60',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': new Date(upstreamRead + 60_000).toISOString(),
      },
      200,
    );
    // One request refilled since the upstream's reading (one per second), not two.
    expect((await limits.snapshot()).sets[0]!.buckets.rpm.remaining).toBeCloseTo(1, 5);
    // A reset outside admission..answer (another clock) is bounded by the answer's time.
    const second = admitted(await limits.admit(request()));
    await second.observeResponse(
      {
        'anthropic-ratelimit-requests-limit': '60',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': '2030-01-01T00:00:00Z',
      },
      200,
    );
    expect((await limits.snapshot()).sets[0]!.buckets.rpm.remaining).toBe(0);
  });

  it('probes a set sized from a tier with one request and opens when its headers arrive, not its end', async () => {
    const limits = new Limiter({ logger: quiet, config: { tier: 'scale' } });
    const probe = admitted(await limits.admit(request()));
    const second = limits.admit(request());
    expect(await state(second)).toBe('pending');
    expect((await limits.snapshot()).sets[0]!.probe).toBe('in-flight');
    await probe.observeResponse(
      { 'anthropic-ratelimit-requests-limit': '50', 'anthropic-ratelimit-requests-remaining': '49' },
      200,
    );
    // The probe is still streaming (not settled): the others go now, against what it taught.
    admitted((await state(second)) as Admission);
    const [set] = (await limits.snapshot()).sets;
    expect(set).toMatchObject({ learned: true, probe: 'done' });
    expect(set!.buckets.rpm.limit).toBe(50);
    admitted(await limits.admit(request()));
  });

  it('uses explicit limits at once: no probe, concurrent requests admitted together', async () => {
    for (const config of [
      { rpm: 100, itpm: 100_000, otpm: 100_000 },
      { credentials: { cred: { 'sonnet-5-5': { rpm: 100, itpm: 100_000, otpm: 100_000 } } } },
    ]) {
      const limits = new Limiter({ logger: quiet, config });
      const first = admitted(await limits.admit(request()));
      for (let i = 0; i < 5; i++) expect(admitted(await limits.admit(request())).waitedMs).toBe(0);
      expect((await limits.snapshot()).sets[0]).toMatchObject({ learned: false, probe: 'done' });
      await first.settle(usage(100, 20));
    }
    // Only part of them explicit: the rest is a tier guess, so the first answer is awaited.
    const partial = new Limiter({ logger: quiet, config: { rpm: 100 } });
    admitted(await partial.admit(request()));
    expect(await state(partial.admit(request()))).toBe('pending');
    partial.close();
  });

  it('lets the next request probe when the probe never reached the upstream', async () => {
    const limits = new Limiter({ logger: quiet, config: { tier: 'scale' } });
    const probe = admitted(await limits.admit(request()));
    const second = limits.admit(request());
    const third = limits.admit(request());
    await probe.release();
    const next = admitted((await state(second)) as Admission);
    expect(await state(third)).toBe('pending');
    await next.observeResponse({}, 200);
    // Headers without limits still end the wait: the tier's figures stay in force.
    admitted((await state(third)) as Admission);
    expect((await limits.snapshot()).sets[0]).toMatchObject({ learned: false, probe: 'done' });
  });

  it('sizes buckets from the catalog default tier, evaluation, per pool', async () => {
    const catalog = defaultCatalog();
    expect(catalog.defaultTier).toBe('evaluation');
    const limits = limiter({ catalog });
    admitted(await limits.admit(request({ pool: 'fable' })));
    const { buckets } = (await limits.snapshot()).sets[0]!;
    const evaluation = catalog.tierLimits('evaluation', 'fable');
    expect([buckets.rpm.limit, buckets.itpm.limit, buckets.otpm.limit]).toEqual([
      evaluation.rpm,
      evaluation.itpm,
      evaluation.otpm,
    ]);
  });

  it('refuses a configuration naming an unknown pool or tier, listing the known ones', () => {
    const limits = { rpm: 1, itpm: 1, otpm: 1 };
    expect(() => limiter({ config: { credentials: { prod: { opus: limits } } } })).toThrow(
      /limits\.credentials\.prod\.opus: unknown pool "opus"; known pools: opus-5-5, opus-5, opus-4, .*mythos/,
    );
    expect(() => limiter({ config: { tier: 'tier-1' } })).toThrow(
      /unknown tier "tier-1"; known tiers: evaluation, start, build, scale, custom/,
    );
    expect(() =>
      limiter({ config: { credentials: { prod: { '*': limits, 'haiku-5-5': limits } } } }),
    ).not.toThrow();
  });

  it('keeps fast-mode buckets apart, sized from the tier fast limits and learned from anthropic-fast-*', async () => {
    const base = defaultCatalog();
    const start = base.tier('start')!;
    const catalog = new Catalog({
      tiers: [
        { ...start, fastLimits: { ...start.fastLimits, 'opus-5-5': { rpm: 2, itpm: 9000, otpm: 900 } } },
      ],
    });
    const registry = new Registry();
    const limits = limiter({ catalog, registry, config: { tier: 'start' } });
    const opus = { pool: 'opus-5-5', maxWaitMs: 600_000 };
    const fast = { ...opus, speed: 'fast' as const };
    admitted(await limits.admit(request(fast)));
    const second = admitted(await limits.admit(request(fast)));
    const fastWaiting = limits.admit(request(fast));
    expect(await state(fastWaiting)).toBe('pending');
    // Fast mode's two requests a minute are spent; standard Opus 5.5 has its own 1,000.
    expect(admitted(await limits.admit(request(opus))).waitedMs).toBe(0);

    await second.observeResponse(
      {
        'anthropic-ratelimit-input-tokens-limit': '1234',
        'anthropic-ratelimit-input-tokens-remaining': '1234',
        'anthropic-fast-input-tokens-limit': '20000',
        'anthropic-fast-input-tokens-remaining': '19000',
        'anthropic-fast-output-tokens-limit': '4000',
        'anthropic-fast-output-tokens-remaining': '3999',
        'retry-after': '1',
      },
      429,
    );
    const sets = (await limits.snapshot()).sets;
    const fastSet = sets.find((s) => s.pool === 'opus-5-5' && s.speed === 'fast')!;
    const standardSet = sets.find((s) => s.pool === 'opus-5-5' && s.speed === 'standard')!;
    expect(fastSet.learned).toBe(true);
    expect(fastSet.buckets.rpm.limit).toBe(2);
    expect(fastSet.buckets.itpm).toMatchObject({ limit: 20_000, remaining: 18_500 });
    // A higher limit frees the difference; the 200 tokens the two fast requests reserved stay spent.
    expect(fastSet.buckets.otpm).toMatchObject({ limit: 4000, remaining: 3800 });
    // The standard headers on a fast answer describe buckets it did not draw from.
    expect(standardSet.learned).toBe(false);
    expect(standardSet.buckets.itpm.limit).toBe(base.tierLimits('start', 'opus-5-5').itpm);
    expect(await registry.getSingleMetricAsString('sluice_limits_upstream_429_total')).toContain(
      'sluice_limits_upstream_429_total{credential="cred",pool="opus-5-5",speed="fast"} 1',
    );
    limits.close();
  });

  it('settles actual usage: cache reads are free upstream and the estimator calibrates', async () => {
    const registry = new Registry();
    const limits = limiter({ registry, config: { rpm: 100, itpm: 10_000, otpm: 10_000 } });
    const first = admitted(await limits.admit(request({ estimatedInputTokens: 1000, maxTokens: 2000 })));
    await first.settle(usage(300, 150, { cache_creation_input_tokens: 200, cache_read_input_tokens: 1000 }));
    const { buckets } = (await limits.snapshot()).sets[0]!;
    expect(buckets.itpm.remaining).toBe(9500);
    expect(buckets.otpm.remaining).toBe(9850);
    expect(limits.estimator.factor('claude-v1')).toBeGreaterThan(1);
    const metrics = await registry.getSingleMetricAsString('sluice_limits_input_estimate_ratio');
    expect(metrics).toContain('sluice_limits_input_estimate_ratio_sum{tokenizer="claude-v1"} 1.5');
    // Settling twice changes nothing.
    await first.settle(usage(0, 0));
    expect((await limits.snapshot()).sets[0]!.buckets.itpm.remaining).toBe(9500);
  });

  it('exposes queue depth and waits on the registry it was given', async () => {
    const registry = new Registry();
    const limits = limiter({ registry, config: { rpm: 1, itpm: 100_000, otpm: 100_000 } });
    admitted(await limits.admit(request()));
    const waiting = limits.admit(request({ maxWaitMs: 120_000 }));
    await vi.advanceTimersByTimeAsync(10);
    expect(await registry.getSingleMetricAsString('sluice_limits_queue_depth')).toContain(
      'sluice_limits_queue_depth{credential="cred",pool="sonnet-5-5",speed="standard"} 1',
    );
    await vi.advanceTimersByTimeAsync(60_000);
    admitted(await waiting);
    const waits = await registry.getSingleMetricAsString('sluice_limits_queue_wait_seconds');
    expect(waits).toContain(
      'sluice_limits_queue_wait_seconds_count{pool="sonnet-5-5",speed="standard",priority="interactive",outcome="admitted"} 1',
    );
  });
});

describe('limiter on a shared Redis', () => {
  const stores: RedisBucketStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  it('shares upstream limits and key quotas between two instances', async () => {
    const prefix = redisPrefix('limiter');
    const instance = async () => {
      const store = await RedisBucketStore.connect({ url: redisUrl, prefix });
      stores.push(store);
      return limiter({
        store,
        config: { rpm: 3, itpm: 100_000, otpm: 100_000, maxWaitMs: { interactive: 0, batch: 0 } },
      });
    };
    const [a, b] = [await instance(), await instance()];
    const results = [];
    for (let i = 0; i < 4; i++)
      results.push(await a.admit(request({ keyId: 'other' })), await b.admit(request({ keyId: 'other' })));
    expect(results.filter((r) => r.admitted)).toHaveLength(3);
    expect(results.filter((r) => !r.admitted).map((r) => (r as Refusal).reason)).toEqual(
      Array(5).fill('wait_too_long'),
    );

    const quota = { credentialId: 'cred2', quotas: { rpm: 2 } };
    admitted(await a.admit(request(quota)));
    admitted(await b.admit(request(quota)));
    expect(refused(await a.admit(request(quota))).reason).toBe('key_quota');
    expect(refused(await b.admit(request(quota))).reason).toBe('key_quota');
  });

  it('fails closed with a 503 overloaded refusal when Redis is unreachable', async () => {
    const { FailoverBucketStore } = await import('../../src/limits/failover-store.js');
    const { MemoryBucketStore } = await import('../../src/limits/memory-store.js');
    const redis = await RedisBucketStore.connect({ url: 'redis://127.0.0.1:1' });
    stores.push(redis);
    const store = new FailoverBucketStore(redis, {
      failOpen: false,
      fallback: new MemoryBucketStore(),
      logger: quiet,
    });
    const refusal = refused(await limiter({ store }).admit(request()));
    expect(refusal).toMatchObject({
      status: 503,
      errorType: 'overloaded_error',
      reason: 'limits_unavailable',
    });
  });
});
