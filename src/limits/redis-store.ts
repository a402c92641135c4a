import { Redis } from 'ioredis';
import type { BucketState } from './bucket.js';
import { type Clock, systemClock } from './clock.js';
import { viewOf } from './memory-store.js';
import { correctScript, inspectScript, pauseScript, refundScript, takeScript } from './redis-scripts.js';
import type {
  BucketCharge,
  BucketCorrection,
  BucketRef,
  BucketStore,
  BucketView,
  TakeResult,
} from './store.js';

export interface RedisBucketStoreOptions {
  url: string;
  /** Namespace for every key this store writes, e.g. `sluice:limits:`. */
  prefix?: string;
  clock?: Clock;
  /** How long a command may take before it counts as a failure. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
}

type ScriptCall = (numKeys: number, ...args: Array<string | number>) => Promise<unknown>;

const scripts = {
  sluiceTake: takeScript,
  sluiceRefund: refundScript,
  sluicePause: pauseScript,
  sluiceCorrect: correctScript,
  sluiceInspect: inspectScript,
} as const;

/**
 * Buckets in Redis, shared by every gateway instance. Time comes from the instance's clock
 * (passed to each script), so instances need synchronised clocks, as NTP gives.
 * Commands fail fast while Redis is unreachable (no offline queue); ioredis keeps reconnecting.
 */
export class RedisBucketStore implements BucketStore {
  readonly backend = 'redis';
  readonly redis: Redis;
  private readonly prefix: string;
  private readonly clock: Clock;
  lastError: Error | undefined;

  constructor(options: RedisBucketStoreOptions) {
    this.prefix = options.prefix ?? 'sluice:limits:';
    this.clock = options.clock ?? systemClock;
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    this.redis.on('error', (error: Error) => {
      this.lastError = error;
    });
    for (const [name, lua] of Object.entries(scripts)) this.redis.defineCommand(name, { lua });
  }

  /** Creates the store and waits for the first connection; an unreachable Redis still yields a store that keeps retrying. */
  static async connect(options: RedisBucketStoreOptions): Promise<RedisBucketStore> {
    const store = new RedisBucketStore(options);
    await store.redis.connect().catch((error: Error) => {
      store.lastError = error;
    });
    return store;
  }

  /** True when commands can be sent now. */
  isAvailable(): boolean {
    return this.redis.status === 'ready';
  }

  private call(name: keyof typeof scripts, keys: string[], args: Array<string | number>): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, ScriptCall>)[name]!;
    return fn.call(
      this.redis,
      keys.length,
      ...keys.map((k) => this.prefix + k),
      ...args.map((a) => (typeof a === 'number' ? numberArg(a) : a)),
    );
  }

  async tryTake(charges: BucketCharge[]): Promise<TakeResult> {
    const reply = (await this.call('sluiceTake', keysOf(charges), [
      this.clock(),
      'take',
      ...chargeArgs(charges),
    ])) as [number, ...string[]];
    return { ok: reply[0] === 1, waits: reply.slice(1).map(Number) };
  }

  async timeUntilAvailable(charges: BucketCharge[]): Promise<number[]> {
    const reply = (await this.call('sluiceTake', keysOf(charges), [
      this.clock(),
      'peek',
      ...chargeArgs(charges),
    ])) as [number, ...string[]];
    return reply.slice(1).map(Number);
  }

  async refund(charges: BucketCharge[]): Promise<void> {
    if (charges.length === 0) return;
    await this.call('sluiceRefund', keysOf(charges), [this.clock(), ...chargeArgs(charges)]);
  }

  async pause(refs: BucketRef[], untilMs: number): Promise<void> {
    if (refs.length === 0) return;
    await this.call('sluicePause', keysOf(refs), [this.clock(), untilMs, ...refs.flatMap(refArgs)]);
  }

  async correct(ref: BucketRef, correction: BucketCorrection): Promise<void> {
    const now = this.clock();
    await this.call(
      'sluiceCorrect',
      [ref.key],
      [
        now,
        ...refArgs(ref),
        correction.limit === undefined ? '' : correction.limit,
        correction.remaining === undefined ? '' : correction.remaining,
        correction.observedAt ?? now,
      ],
    );
  }

  async inspect(refs: BucketRef[]): Promise<BucketView[]> {
    if (refs.length === 0) return [];
    const now = this.clock();
    const flat = (await this.call('sluiceInspect', keysOf(refs), [
      now,
      ...refs.flatMap(refArgs),
    ])) as string[];
    return refs.map((ref, i) => {
      const state: BucketState = {
        limit: Number(flat[i * 3]),
        tokens: Number(flat[i * 3 + 1]),
        pausedUntil: Number(flat[i * 3 + 2]),
        updatedAt: now,
      };
      return viewOf(ref, state, now);
    });
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function keysOf(refs: BucketRef[]): string[] {
  return refs.map((r) => r.key);
}

function refArgs(ref: BucketRef): Array<string | number> {
  return [ref.limit, ref.windowMs, ref.fixedLimit ? 1 : 0];
}

function chargeArgs(charges: BucketCharge[]): Array<string | number> {
  return charges.flatMap((c) => [c.limit, c.windowMs, c.amount, c.fixedLimit ? 1 : 0]);
}

/** Full precision, never exponent notation (Lua's tonumber reads both, but keep keys readable). */
function numberArg(n: number): string {
  return Number.isInteger(n) ? n.toFixed(0) : String(n);
}
