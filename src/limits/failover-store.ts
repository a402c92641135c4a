import type { LimitsLogger } from './logger.js';
import {
  type BucketCharge,
  type BucketCorrection,
  type BucketRef,
  type BucketStore,
  type BucketView,
  LimitsUnavailableError,
  type TakeResult,
} from './store.js';

/** A shared store that can tell, without a round trip, whether it is reachable. */
export interface RemoteBucketStore extends BucketStore {
  isAvailable(): boolean;
}

export interface FailoverOptions {
  /** true: use local buckets while the shared store is down; false: refuse (LimitsUnavailableError). */
  failOpen: boolean;
  fallback: BucketStore;
  logger: LimitsLogger;
}

/**
 * Wraps the shared store with the outage policy. Failing open keeps serving from local buckets
 * (each instance then limits on its own, so N instances may together exceed a limit) and logs
 * one warning per outage; the shared store is used again as soon as it answers.
 */
export class FailoverBucketStore implements BucketStore {
  readonly backend: string;
  private degraded = false;

  constructor(
    private readonly primary: RemoteBucketStore,
    private readonly options: FailoverOptions,
  ) {
    this.backend = primary.backend;
  }

  /** True while the shared store is unreachable. */
  isDegraded(): boolean {
    return this.degraded;
  }

  private async use<T>(operation: (store: BucketStore) => Promise<T>): Promise<T> {
    if (this.primary.isAvailable()) {
      try {
        const result = await operation(this.primary);
        if (this.degraded) {
          this.degraded = false;
          this.options.logger.info(
            { backend: this.backend },
            'rate-limit store reachable again; shared buckets in use',
          );
        }
        return result;
      } catch (error) {
        return this.failed(error, operation);
      }
    }
    return this.failed(new Error(`${this.backend} is not connected`), operation);
  }

  private async failed<T>(error: unknown, operation: (store: BucketStore) => Promise<T>): Promise<T> {
    if (!this.degraded) {
      this.degraded = true;
      const message = error instanceof Error ? error.message : String(error);
      this.options.logger.warn(
        { backend: this.backend, error: message, failOpen: this.options.failOpen },
        this.options.failOpen
          ? 'rate-limit store unreachable; falling back to local in-memory buckets'
          : 'rate-limit store unreachable; refusing requests until it returns',
      );
    }
    if (!this.options.failOpen)
      throw new LimitsUnavailableError(`rate-limit store (${this.backend}) is unreachable`);
    return operation(this.options.fallback);
  }

  tryTake(charges: BucketCharge[]): Promise<TakeResult> {
    return this.use((s) => s.tryTake(charges));
  }
  timeUntilAvailable(charges: BucketCharge[]): Promise<number[]> {
    return this.use((s) => s.timeUntilAvailable(charges));
  }
  refund(charges: BucketCharge[]): Promise<void> {
    return this.use(async (s) => s.refund(charges));
  }
  pause(refs: BucketRef[], untilMs: number): Promise<void> {
    return this.use(async (s) => s.pause(refs, untilMs));
  }
  correct(ref: BucketRef, correction: BucketCorrection): Promise<void> {
    return this.use(async (s) => s.correct(ref, correction));
  }
  inspect(refs: BucketRef[]): Promise<BucketView[]> {
    return this.use((s) => s.inspect(refs));
  }
  async close(): Promise<void> {
    await this.primary.close();
    await this.options.fallback.close();
  }
}
