/** A bucket as the caller names and sizes it. */
export interface BucketRef {
  /** Unique name within the store, e.g. `up:cred:opus:itpm` or `key:k_1:tpd`. */
  key: string;
  /** Capacity and refill per window. Used when the bucket is created, or always when `fixedLimit`. */
  limit: number;
  windowMs: number;
  /** Configured quotas win over the stored limit; upstream limits keep what was learned. */
  fixedLimit?: boolean;
}

export interface BucketCharge extends BucketRef {
  amount: number;
}

export interface TakeResult {
  ok: boolean;
  /** Per charge, milliseconds until that bucket alone could supply it (0 = it can now). */
  waits: number[];
}

export interface BucketView {
  key: string;
  limit: number;
  remaining: number;
  pausedUntil: number;
  /** When the bucket will be full again (ms since the epoch). */
  fullAt: number;
}

/** What response headers told us about one upstream bucket. */
export interface BucketCorrection {
  limit?: number;
  remaining?: number;
  /** When `remaining` was true upstream; the bucket refilled since then. */
  observedAt?: number;
}

/**
 * Rate-limit buckets. Every method with several charges acts on all of them atomically.
 * Implementations: memory (one instance) and Redis (many instances sharing one view).
 */
export interface BucketStore {
  readonly backend: string;
  /** Takes every charge, or none when any bucket is short (or paused). */
  tryTake(charges: BucketCharge[]): Promise<TakeResult>;
  /** The same, answered at once, for stores held in this process (admission then costs no await). */
  tryTakeNow?(charges: BucketCharge[]): TakeResult;
  /** Per charge, milliseconds until it could be taken; takes nothing. */
  timeUntilAvailable(charges: BucketCharge[]): Promise<number[]>;
  // The three updates below return nothing when done at once (stores in this process), so
  // settling and learning, which every request does, cost no promise there.
  /** Gives tokens back (positive amounts) or charges more (negative), e.g. when settling actuals. */
  refund(charges: BucketCharge[]): Promise<void> | void;
  /** Blocks takes from these buckets until `untilMs` (an upstream 429's retry-after). */
  pause(refs: BucketRef[], untilMs: number): Promise<void> | void;
  /** Learns the limit and lowers the level to what upstream reports as remaining. */
  correct(ref: BucketRef, correction: BucketCorrection): Promise<void> | void;
  inspect(refs: BucketRef[]): Promise<BucketView[]>;
  close(): Promise<void>;
}

/** The shared store cannot be reached and the limiter is configured to fail closed. */
export class LimitsUnavailableError extends Error {
  override name = 'LimitsUnavailableError';
}
