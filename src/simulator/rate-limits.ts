import type { Catalog } from '../catalog/catalog.js';
import type { RateLimits } from '../catalog/schema.js';
import type { Clock } from './clock.js';

const windowMs = 60_000;
const epsilon = 1e-9;

/** A continuously refilled bucket: `limit` tokens per minute, never more than `limit` held. */
class Bucket {
  tokens: number;
  private updatedAt: number;

  constructor(
    readonly limit: number,
    now: number,
  ) {
    this.tokens = limit;
    this.updatedAt = now;
  }

  refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.limit, this.tokens + (elapsed * this.limit) / windowMs);
    this.updatedAt = Math.max(now, this.updatedAt);
  }

  /** Milliseconds until `amount` fits; an amount above the limit waits for a full bucket. */
  waitFor(amount: number): number {
    const shortfall = Math.min(amount, this.limit) - this.tokens;
    // Refill arithmetic is in floating point: ignore shortfalls that are only rounding noise.
    return shortfall > epsilon ? (shortfall * windowMs) / this.limit : 0;
  }

  /** When the bucket will be full again. */
  fullAt(now: number): number {
    return now + ((this.limit - this.tokens) * windowMs) / this.limit;
  }
}

interface PoolBuckets {
  requests: Bucket;
  input: Bucket;
  output: Bucket;
}

/** Fast mode (`speed: "fast"`) has its own buckets per pool, reported as `anthropic-fast-*`. */
export type Speed = 'standard' | 'fast';

export type LimitsFor = (pool: string, speed: Speed) => RateLimits;

export type LimitKind = 'requests' | 'input' | 'output';

export type Admission =
  | { admitted: true; headers: Record<string, string>; settle(outputTokens: number): void }
  | {
      admitted: false;
      headers: Record<string, string>;
      retryAfterSeconds: number;
      exceeded: LimitKind;
      limit: number;
    };

/**
 * Per-organization limits per model pool (and per pool for fast mode): requests (RPM), input
 * tokens (ITPM: plain input and cache writes; cache reads are free) and output tokens (OTPM).
 * Output is reserved as `max_tokens` at admission and the unused part is given back when the
 * response ends.
 */
export class RateLimiter {
  private readonly buckets: Record<Speed, Map<string, PoolBuckets>> = {
    standard: new Map(),
    fast: new Map(),
  };

  constructor(
    private readonly clock: Clock,
    private limitsFor: LimitsFor,
    private readonly roundRemaining: boolean,
  ) {}

  /** New limits, with full buckets. */
  setLimits(limitsFor: LimitsFor): void {
    this.limitsFor = limitsFor;
    this.reset();
  }

  reset(): void {
    this.buckets.standard.clear();
    this.buckets.fast.clear();
  }

  admit(pool: string, inputTokens: number, maxTokens: number, speed: Speed = 'standard'): Admission {
    const now = this.clock.now();
    const buckets = this.bucketsFor(pool, speed, now);
    const outputReserve = Math.min(maxTokens, buckets.output.limit);
    const needs: Array<[LimitKind, number]> = [
      ['requests', 1],
      ['input', inputTokens],
      ['output', outputReserve],
    ];
    let wait = 0;
    let exceeded: LimitKind | undefined;
    for (const [kind, amount] of needs) {
      const ms = buckets[kind].waitFor(amount);
      if (ms > wait) {
        wait = ms;
        exceeded = kind;
      }
    }
    if (exceeded) {
      return {
        admitted: false,
        headers: this.headersFor(pool, speed, buckets, now),
        retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000 - epsilon)),
        exceeded,
        limit: buckets[exceeded].limit,
      };
    }
    buckets.requests.tokens -= 1;
    buckets.input.tokens -= inputTokens;
    buckets.output.tokens -= outputReserve;
    let settled = false;
    return {
      admitted: true,
      headers: this.headersFor(pool, speed, buckets, now),
      settle: (outputTokens) => {
        if (settled) return;
        settled = true;
        buckets.output.refill(this.clock.now());
        buckets.output.tokens = Math.min(
          buckets.output.limit,
          buckets.output.tokens + outputReserve - outputTokens,
        );
      },
    };
  }

  /** The rate-limit headers for a pool as things stand. */
  currentHeaders(pool: string, speed: Speed = 'standard'): Record<string, string> {
    const now = this.clock.now();
    return this.headersFor(pool, speed, this.bucketsFor(pool, speed, now), now);
  }

  private bucketsFor(pool: string, speed: Speed, now: number): PoolBuckets {
    let buckets = this.buckets[speed].get(pool);
    if (!buckets) {
      const limits = this.limitsFor(pool, speed);
      buckets = {
        requests: new Bucket(limits.rpm, now),
        input: new Bucket(limits.itpm, now),
        output: new Bucket(limits.otpm, now),
      };
      this.buckets[speed].set(pool, buckets);
    } else {
      buckets.requests.refill(now);
      buckets.input.refill(now);
      buckets.output.refill(now);
    }
    return buckets;
  }

  /**
   * A fast request's answer carries its fast buckets as `anthropic-fast-{input|output}-tokens-*`
   * beside the pool's standard headers as they stand (which it did not draw from).
   */
  private headersFor(pool: string, speed: Speed, buckets: PoolBuckets, now: number): Record<string, string> {
    if (speed === 'standard') return this.headers(buckets, now);
    const tokenRemaining = (bucket: Bucket) => String(this.tokenRemaining(bucket));
    return {
      ...this.headers(this.bucketsFor(pool, 'standard', now), now),
      'anthropic-fast-input-tokens-limit': String(buckets.input.limit),
      'anthropic-fast-input-tokens-remaining': tokenRemaining(buckets.input),
      'anthropic-fast-input-tokens-reset': rfc3339(buckets.input.fullAt(now)),
      'anthropic-fast-output-tokens-limit': String(buckets.output.limit),
      'anthropic-fast-output-tokens-remaining': tokenRemaining(buckets.output),
      'anthropic-fast-output-tokens-reset': rfc3339(buckets.output.fullAt(now)),
    };
  }

  private tokenRemaining(bucket: Bucket): number {
    const exact = Math.max(0, Math.floor(bucket.tokens));
    return this.roundRemaining ? Math.round(exact / 1000) * 1000 : exact;
  }

  private headers(buckets: PoolBuckets, now: number): Record<string, string> {
    const tokenRemaining = (bucket: Bucket): number => this.tokenRemaining(bucket);
    const reset = (bucket: Bucket): string => rfc3339(bucket.fullAt(now));
    // The combined "tokens" headers report whichever token limit is the most restrictive now.
    const tightest = buckets.input.tokens <= buckets.output.tokens ? buckets.input : buckets.output;
    return {
      'anthropic-ratelimit-requests-limit': String(buckets.requests.limit),
      'anthropic-ratelimit-requests-remaining': String(Math.max(0, Math.floor(buckets.requests.tokens))),
      'anthropic-ratelimit-requests-reset': reset(buckets.requests),
      'anthropic-ratelimit-tokens-limit': String(tightest.limit),
      'anthropic-ratelimit-tokens-remaining': String(tokenRemaining(tightest)),
      'anthropic-ratelimit-tokens-reset': reset(tightest),
      'anthropic-ratelimit-input-tokens-limit': String(buckets.input.limit),
      'anthropic-ratelimit-input-tokens-remaining': String(tokenRemaining(buckets.input)),
      'anthropic-ratelimit-input-tokens-reset': reset(buckets.input),
      'anthropic-ratelimit-output-tokens-limit': String(buckets.output.limit),
      'anthropic-ratelimit-output-tokens-remaining': String(tokenRemaining(buckets.output)),
      'anthropic-ratelimit-output-tokens-reset': reset(buckets.output),
    };
  }
}

const formattedSeconds = new Map<number, string>();
/** RFC 3339 time to the second, rounded up, as the service writes it (memoised: it is on every response). */
function rfc3339(ms: number): string {
  const second = Math.ceil(ms / 1000);
  let text = formattedSeconds.get(second);
  if (text === undefined) {
    if (formattedSeconds.size > 256) formattedSeconds.clear();
    text = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    formattedSeconds.set(second, text);
  }
  return text;
}

export type LimitSpec = { tier: string } | RateLimits;

/**
 * Limits per pool and speed from a tier name (its `limits` and `fastLimits`) or explicit numbers
 * (the same for every pool and speed, in separate buckets). With neither, the catalog's roomiest
 * tier, so that the simulator is not what limits a test.
 */
export function limitsFromSpec(catalog: Catalog, spec: LimitSpec | undefined): LimitsFor {
  if (spec && 'rpm' in spec) {
    const limits = { rpm: spec.rpm, itpm: spec.itpm, otpm: spec.otpm };
    return () => limits;
  }
  const tier = spec?.tier ?? roomiestTier(catalog);
  catalog.tierLimits(tier, catalog.poolIds()[0] ?? 'default'); // throws on an unknown tier
  return (pool, speed) => catalog.tierLimits(tier, pool, speed === 'fast');
}

function roomiestTier(catalog: Catalog): string {
  const total = (name: string): number =>
    Object.values(catalog.tier(name)!.limits).reduce((sum, l) => sum + l.rpm + l.itpm + l.otpm, 0);
  return catalog.tierNames().reduce((best, name) => (total(name) > total(best) ? name : best));
}
