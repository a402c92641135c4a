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

/**
 * Buckets in this process: the default for a single gateway instance. The states are this
 * store's own, so they are brought up to date in place (every request touches three of them).
 */
export class MemoryBucketStore implements BucketStore {
  readonly backend = 'memory';
  private readonly buckets = new Map<string, BucketState>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** The bucket's state at `now` (created full when new), refilled in place. */
  private current(ref: BucketRef, now: number): BucketState {
    let state = this.buckets.get(ref.key);
    if (!state) {
      state = freshBucket(ref.limit, now);
      this.buckets.set(ref.key, state);
    } else if (ref.fixedLimit && state.limit !== ref.limit) {
      Object.assign(state, withLimit(state, ref.limit));
    }
    return refill(state, ref.windowMs, now);
  }

  async tryTake(charges: BucketCharge[]): Promise<TakeResult> {
    return this.tryTakeNow(charges);
  }

  tryTakeNow(charges: BucketCharge[]): TakeResult {
    const now = this.clock();
    const waits = new Array<number>(charges.length);
    let ok = true;
    for (let i = 0; i < charges.length; i++) {
      const charge = charges[i]!;
      waits[i] = waitFor(this.current(charge, now), charge.amount, charge.windowMs, now);
      if (waits[i]! > 0) ok = false;
    }
    if (ok) for (const charge of charges) this.buckets.get(charge.key)!.tokens -= charge.amount;
    return { ok, waits };
  }

  async timeUntilAvailable(charges: BucketCharge[]): Promise<number[]> {
    const now = this.clock();
    return charges.map((c) => waitFor(this.current(c, now), c.amount, c.windowMs, now));
  }

  refund(charges: BucketCharge[]): void {
    const now = this.clock();
    for (const c of charges) {
      const state = this.current(c, now);
      state.tokens = Math.min(state.limit, state.tokens + c.amount);
    }
  }

  pause(refs: BucketRef[], untilMs: number): void {
    const now = this.clock();
    for (const ref of refs) {
      const state = this.current(ref, now);
      state.pausedUntil = Math.max(state.pausedUntil, untilMs);
    }
  }

  correct(ref: BucketRef, correction: BucketCorrection): void {
    const now = this.clock();
    const state = this.current(ref, now);
    if (correction.limit !== undefined && correction.limit > 0)
      Object.assign(state, withLimit(state, correction.limit));
    if (correction.remaining !== undefined) {
      const since = Math.max(0, now - (correction.observedAt ?? now));
      const upstream = correction.remaining + (since * state.limit) / ref.windowMs;
      state.tokens = Math.min(state.tokens, upstream);
    }
  }

  async inspect(refs: BucketRef[]): Promise<BucketView[]> {
    const now = this.clock();
    return refs.map((ref) => viewOf(ref, this.current(ref, now), now));
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
