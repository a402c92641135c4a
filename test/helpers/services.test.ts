import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { deleteRedisKeys, redisPrefix, redisUrl } from './services.js';

describe('test run clean-up', () => {
  it("deletes every Redis key under a run's prefix, and nothing else", async () => {
    const redis = new Redis(redisUrl);
    const mine = redisPrefix('cleanup');
    const other = `${redisPrefix('cleanup-other')}kept`;
    try {
      await redis.mset(`${mine}a`, '1', `${mine}b:c`, '2', `${mine}[glob]`, '3', other, '4');
      expect(await deleteRedisKeys(mine)).toBe(3);
      expect(await redis.exists(`${mine}a`, `${mine}b:c`, `${mine}[glob]`)).toBe(0);
      expect(await redis.get(other)).toBe('4');
    } finally {
      await redis.del(other);
      redis.disconnect();
    }
  });

  it('is quiet when Redis cannot be reached', async () => {
    expect(await deleteRedisKeys('sluice-test:none:', 'redis://127.0.0.1:1')).toBe(0);
  });
});
