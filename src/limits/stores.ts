import type { Clock } from './clock.js';
import type { LimitsConfig } from './config.js';
import { FailoverBucketStore } from './failover-store.js';
import type { LimitsLogger } from './logger.js';
import { MemoryBucketStore } from './memory-store.js';
import type { BucketStore } from './store.js';

/** The bucket store the configuration asks for: memory, or Redis wrapped in its outage policy. */
export async function createBucketStore(
  config: LimitsConfig['store'],
  deps: { clock?: Clock; logger: LimitsLogger },
): Promise<BucketStore> {
  if (config.backend === 'memory') return new MemoryBucketStore(deps.clock);
  if (!config.url) throw new Error('limits.store.url is required for the redis backend');
  // ioredis is loaded only for this backend: a single instance keeps its buckets in memory.
  const { RedisBucketStore } = await import('./redis-store.js');
  const redis = await RedisBucketStore.connect({ url: config.url, prefix: config.prefix, clock: deps.clock });
  return new FailoverBucketStore(redis, {
    failOpen: config.failOpen,
    fallback: new MemoryBucketStore(deps.clock),
    logger: deps.logger,
  });
}
