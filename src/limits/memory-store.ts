import { type BucketState, freshBucket, refill, waitFor, withLimit } from './bucket.js';
import { type Clock, systemClock } from './clock.js';
import type {
  BucketCharge,
  BucketCorrection,
  BucketRef,
  BucketStore,
  BucketView,
  TakeResult,
} from './store.js';

/** Buckets in this process: the default for a single gateway instance. */
export class MemoryBucketStore implements BucketStore {
  readonly backend = 'memory';
  private readonly buckets = new Map<string, BucketState>();

  constructor(private readonly clock: Clock = systemClock) {}

  private current(ref: BucketRef, now: number): BucketState {
    let state = this.buckets.get(ref.key) ?? freshBucket(ref.limit, now);
    if (ref.fixedLimit && state.limit !== ref.limit) state = withLimit(state, ref.limit);
    return refill(state, ref.windowMs, now);
  }

  async tryTake(charges: BucketCharge[]): Promise<TakeResult> {
    return this.tryTakeNow(charges);
  }

  tryTakeNow(charges: BucketCharge[]): TakeResult {
    const now = this.clock();
    const states = charges.map((c) => this.current(c, now));
    const waits = charges.map((c, i) => waitFor(states[i]!, c.amount, c.windowMs, now));
    const ok = waits.every((w) => w === 0);
    charges.forEach((c, i) => {
      const state = states[i]!;
      this.buckets.set(c.key, ok ? { ...state, tokens: state.tokens - c.amount } : state);
    });
    return { ok, waits };
  }

  async timeUntilAvailable(charges: BucketCharge[]): Promise<number[]> {
    const now = this.clock();
    return charges.map((c) => waitFor(this.current(c, now), c.amount, c.windowMs, now));
  }

  async refund(charges: BucketCharge[]): Promise<void> {
    const now = this.clock();
    for (const c of charges) {
      const state = this.current(c, now);
      this.buckets.set(c.key, { ...state, tokens: Math.min(state.limit, state.tokens + c.amount) });
    }
  }

  async pause(refs: BucketRef[], untilMs: number): Promise<void> {
    const now = this.clock();
    for (const ref of refs) {
      const state = this.current(ref, now);
      this.buckets.set(ref.key, { ...state, pausedUntil: Math.max(state.pausedUntil, untilMs) });
    }
  }

  async correct(ref: BucketRef, correction: BucketCorrection): Promise<void> {
    const now = this.clock();
    let state = this.current(ref, now);
    if (correction.limit !== undefined && correction.limit > 0) state = withLimit(state, correction.limit);
    if (correction.remaining !== undefined) {
      const since = Math.max(0, now - (correction.observedAt ?? now));
      const upstream = correction.remaining + (since * state.limit) / ref.windowMs;
      state = { ...state, tokens: Math.min(state.tokens, upstream) };
    }
    this.buckets.set(ref.key, state);
  }

  async inspect(refs: BucketRef[]): Promise<BucketView[]> {
    const now = this.clock();
    return refs.map((ref) => {
      const state = this.current(ref, now);
      return viewOf(ref, state, now);
    });
  }

  async close(): Promise<void> {}
}

export function viewOf(ref: BucketRef, state: BucketState, now: number): BucketView {
  const missing = Math.max(0, state.limit - state.tokens);
  return {
    key: ref.key,
    limit: state.limit,
    remaining: state.tokens,
    pausedUntil: state.pausedUntil,
    fullAt: now + (missing * ref.windowMs) / state.limit,
  };
}
