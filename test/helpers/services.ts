import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/** Identifies this test run, so concurrent runs never share a database or a Redis key. */
export const testRunId = process.env.SLUICE_TEST_RUN_ID ?? `dev${process.pid}`;
const postgresAdminUrl =
  process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The prefix of every Redis key this run's tests write. */
export function runRedisPrefix(runId = testRunId): string {
  return `sluice-test:${runId}:`;
}

/**
 * Deletes every Redis key under `prefix`; returns how many. Redis being down is not an error here:
 * the tests that need it say so themselves.
 */
export async function deleteRedisKeys(prefix: string, url = redisUrl): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let deleted = 0;
    // The prefix is ours, made of letters, digits and ':'; escape glob characters all the same.
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for await (const keys of redis.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) deleted += await redis.del(...keys);
    }
    return deleted;
  } catch {
    return 0;
  } finally {
    redis.disconnect();
  }
}

/** A unique Redis key prefix for one test. */
export function redisPrefix(label: string): string {
  return `${runRedisPrefix()}${label}:${randomBytes(4).toString('hex')}:`;
}

/** Creates a fresh PostgreSQL database; `drop` removes it. */
export async function createPostgresDatabase(
  label: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `sluice_${testRunId}_${label}_${randomBytes(4).toString('hex')}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      // A pool that was just ended may still be closing its connections: wait for them rather
      // than terminate them (a terminated client that is still ending raises an uncaught error).
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query(`DROP DATABASE IF EXISTS "${name}"${attempt > 100 ? ' WITH (FORCE)' : ''}`);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== '55006' || attempt > 100) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      await client.end();
    },
  };
}
