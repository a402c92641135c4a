import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/limits/clock.js';
import { MemoryBucketStore } from '../../src/limits/memory-store.js';
import { RedisBucketStore } from '../../src/limits/redis-store.js';
import type { BucketCharge, BucketStore } from '../../src/limits/store.js';
import { redisPrefix, redisUrl } from '../helpers/services.js';

const minute = 60_000;
const rpm = (amount: number, limit = 60): BucketCharge => ({ key: 'rpm', limit, windowMs: minute, amount });
const itpm = (amount: number, limit = 6000): BucketCharge => ({
  key: 'itpm',
  limit,
  windowMs: minute,
  amount,
});

const backends: Array<[string, (clock: ManualClock) => Promise<BucketStore>]> = [
  ['memory', async (clock) => new MemoryBucketStore(clock.now)],
  [
    'redis',
    (clock) => RedisBucketStore.connect({ url: redisUrl, prefix: redisPrefix('store'), clock: clock.now }),
  ],
];

describe.each(backends)('%s bucket store', (_name, create) => {
  let store: BucketStore;
  let clock: ManualClock;
  afterEach(async () => {
    await store.close();
  });

  async function setup(): Promise<void> {
    clock = new ManualClock();
    store = await create(clock);
  }

  it('starts full and takes all buckets or none', async () => {
    await setup();
    expect((await store.tryTake([rpm(1), itpm(5000)])).ok).toBe(true);
    // 1000 input tokens left: a 2000-token request must not take its request slot either.
    const refused = await store.tryTake([rpm(1), itpm(2000)]);
    expect(refused.ok).toBe(false);
    expect(refused.waits[0]).toBe(0);
    expect(refused.waits[1]).toBeCloseTo(10_000, 5); // 1000 missing at 100 tokens/s
    const [rpmView] = await store.inspect([rpm(0)]);
    expect(rpmView!.remaining).toBeCloseTo(59, 5);
  });

  it('refills continuously at limit per window', async () => {
    await setup();
    await store.tryTake([itpm(6000)]);
    clock.advance(15_000);
    const [view] = await store.inspect([itpm(0)]);
    expect(view!.remaining).toBeCloseTo(1500, 5);
    expect(view!.fullAt).toBe(clock.now() + 45_000);
    expect(await store.timeUntilAvailable([itpm(2000)])).toEqual([5000]);
    clock.advance(5000);
    expect((await store.tryTake([itpm(2000)])).ok).toBe(true);
  });

  it('lets a request larger than the bucket through only when the bucket is full, leaving a debt', async () => {
    await setup();
    expect((await store.tryTake([itpm(9000)])).ok).toBe(true);
    const [view] = await store.inspect([itpm(0)]);
    expect(view!.remaining).toBeCloseTo(-3000, 5);
    expect(await store.timeUntilAvailable([itpm(100)])).toEqual([31_000]);
  });

  it('refunds up to the limit and charges more with a negative refund', async () => {
    await setup();
    await store.tryTake([itpm(4000)]);
    await store.refund([itpm(1000)]);
    expect((await store.inspect([itpm(0)]))[0]!.remaining).toBeCloseTo(3000, 5);
    await store.refund([itpm(-2500)]);
    expect((await store.inspect([itpm(0)]))[0]!.remaining).toBeCloseTo(500, 5);
    await store.refund([itpm(99_999)]);
    expect((await store.inspect([itpm(0)]))[0]!.remaining).toBe(6000);
  });

  it('pauses takes until the given time', async () => {
    await setup();
    await store.pause([rpm(0)], clock.now() + 7000);
    const refused = await store.tryTake([rpm(1)]);
    expect(refused).toEqual({ ok: false, waits: [7000] });
    clock.advance(7000);
    expect((await store.tryTake([rpm(1)])).ok).toBe(true);
  });

  it('learns a limit and lowers the level to what upstream reports', async () => {
    await setup();
    await store.correct(itpm(0), { limit: 3000, remaining: 1000, observedAt: clock.now() - 6000 });
    // (The lower limit alone would leave 3000 of 3000: nothing was spent yet.)
    const [view] = await store.inspect([itpm(0)]);
    expect(view!.limit).toBe(3000);
    // 1000 remaining six seconds ago, refilled at 50 tokens/s since.
    expect(view!.remaining).toBeCloseTo(1300, 5);
    // A higher remaining never raises the level: requests we admitted may not have reached upstream yet.
    await store.correct(itpm(0), { remaining: 2900 });
    expect((await store.inspect([itpm(0)]))[0]!.remaining).toBeCloseTo(1300, 5);
    // The learned limit sticks even though callers still pass the configured one.
    expect((await store.timeUntilAvailable([itpm(3000)]))[0]).toBeCloseTo(34_000, 5);
  });

  it('applies a fixed limit over the stored one (quota changed by an administrator)', async () => {
    await setup();
    const quota = (limit: number, amount: number): BucketCharge => ({
      ...rpm(amount, limit),
      fixedLimit: true,
    });
    await store.tryTake([quota(10, 4)]);
    // Four of the old ten were spent: one of five is left, and sixteen of twenty.
    expect((await store.inspect([quota(5, 0)]))[0]).toMatchObject({ limit: 5, remaining: 1 });
    await store.tryTake([quota(5, 0)]);
    expect((await store.inspect([quota(20, 0)]))[0]).toMatchObject({ limit: 20, remaining: 16 });
  });
});
