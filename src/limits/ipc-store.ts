import type { Handlers, RpcClient } from '../cluster/rpc.js';
import type {
  BucketCharge,
  BucketCorrection,
  BucketRef,
  BucketStore,
  BucketView,
  TakeResult,
} from './store.js';

/**
 * The buckets of `sluice serve --workers N` without Redis: the primary process holds them (a
 * `MemoryBucketStore`) and every worker reaches them through this store over IPC. A take is
 * answered by the one process that holds the bucket, so N workers together stay within a
 * limit exactly as one process does. Updates that need no answer are sent without waiting;
 * the channel keeps their order.
 */
export class IpcBucketStore implements BucketStore {
  readonly backend = 'memory (primary process)';

  constructor(private readonly rpc: RpcClient) {}

  tryTake(charges: BucketCharge[]): Promise<TakeResult> {
    return this.rpc.call('buckets.tryTake', charges);
  }
  timeUntilAvailable(charges: BucketCharge[]): Promise<number[]> {
    return this.rpc.call('buckets.timeUntilAvailable', charges);
  }
  refund(charges: BucketCharge[]): void {
    this.rpc.notify('buckets.refund', charges);
  }
  pause(refs: BucketRef[], untilMs: number): void {
    this.rpc.notify('buckets.pause', refs, untilMs);
  }
  correct(ref: BucketRef, correction: BucketCorrection): void {
    this.rpc.notify('buckets.correct', ref, correction);
  }
  inspect(refs: BucketRef[]): Promise<BucketView[]> {
    return this.rpc.call('buckets.inspect', refs);
  }
  /** The buckets belong to the primary; a worker closing leaves them in place. */
  async close(): Promise<void> {}
}

/** The primary's side: answers `IpcBucketStore` calls from its own store. */
export function bucketHandlers(store: BucketStore): Handlers {
  return {
    'buckets.tryTake': (_from, charges: BucketCharge[]) =>
      store.tryTakeNow?.(charges) ?? store.tryTake(charges),
    'buckets.timeUntilAvailable': (_from, charges: BucketCharge[]) => store.timeUntilAvailable(charges),
    'buckets.refund': (_from, charges: BucketCharge[]) => store.refund(charges),
    'buckets.pause': (_from, refs: BucketRef[], untilMs: number) => store.pause(refs, untilMs),
    'buckets.correct': (_from, ref: BucketRef, correction: BucketCorrection) =>
      store.correct(ref, correction),
    'buckets.inspect': (_from, refs: BucketRef[]) => store.inspect(refs),
  };
}
