import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FailoverBucketStore } from '../../src/limits/failover-store.js';
import type { LimitsLogger } from '../../src/limits/logger.js';
import { MemoryBucketStore } from '../../src/limits/memory-store.js';
import { RedisBucketStore } from '../../src/limits/redis-store.js';
import { type BucketCharge, LimitsUnavailableError } from '../../src/limits/store.js';
import { redisPrefix, redisUrl } from '../helpers/services.js';

const rpm = (amount: number): BucketCharge => ({ key: 'rpm', limit: 2, windowMs: 60_000, amount });

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function recordingLogger(): LimitsLogger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (_d, m) => warnings.push(m), info: (_d, m) => infos.push(m) };
}

describe('failover bucket store', () => {
  const opened: RedisBucketStore[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  async function unreachable(): Promise<RedisBucketStore> {
    const store = await RedisBucketStore.connect({ url: `redis://127.0.0.1:${await closedPort()}` });
    opened.push(store);
    return store;
  }

  it('fails open to local buckets, warning once per outage', async () => {
    const logger = recordingLogger();
    const store = new FailoverBucketStore(await unreachable(), {
      failOpen: true,
      fallback: new MemoryBucketStore(),
      logger,
    });
    expect((await store.tryTake([rpm(1)])).ok).toBe(true);
    expect((await store.tryTake([rpm(1)])).ok).toBe(true);
    // The local buckets enforce the limit on their own.
    expect((await store.tryTake([rpm(1)])).ok).toBe(false);
    expect(logger.warnings).toEqual([
      'rate-limit store unreachable; falling back to local in-memory buckets',
    ]);
    expect(store.isDegraded()).toBe(true);
  });

  it('fails closed with LimitsUnavailableError', async () => {
    const store = new FailoverBucketStore(await unreachable(), {
      failOpen: false,
      fallback: new MemoryBucketStore(),
      logger: recordingLogger(),
    });
    await expect(store.tryTake([rpm(1)])).rejects.toBeInstanceOf(LimitsUnavailableError);
  });

  it('falls back when the connection drops and returns to Redis when it is back', async () => {
    const logger = recordingLogger();
    const redis = await RedisBucketStore.connect({ url: redisUrl, prefix: redisPrefix('failover') });
    opened.push(redis);
    const store = new FailoverBucketStore(redis, {
      failOpen: true,
      fallback: new MemoryBucketStore(),
      logger,
    });
    expect((await store.tryTake([rpm(1)])).ok).toBe(true);
    redis.redis.disconnect(true);
    expect((await store.tryTake([rpm(1)])).ok).toBe(true);
    expect(store.isDegraded()).toBe(true);
    await new Promise<void>((resolve) => redis.redis.once('ready', () => resolve()));
    // Back on the shared bucket, where one request was already taken before the outage.
    expect((await store.tryTake([rpm(1)])).ok).toBe(true);
    expect((await store.tryTake([rpm(1)])).ok).toBe(false);
    expect(store.isDegraded()).toBe(false);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.infos).toEqual(['rate-limit store reachable again; shared buckets in use']);
  });
});
