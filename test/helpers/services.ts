import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Identifies this test run, so concurrent runs never share a database or a Redis key. */
export const testRunId = process.env.SLUICE_TEST_RUN_ID ?? `dev${process.pid}`;
const postgresAdminUrl =
  process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique Redis key prefix for one test. */
export function redisPrefix(label: string): string {
  return `sluice-test:${testRunId}:${label}:${randomBytes(4).toString('hex')}:`;
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
