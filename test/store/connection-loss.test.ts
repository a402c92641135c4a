import { sql } from 'kysely';
import pg from 'pg';
import { expect, it } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { createPostgresDatabase } from '../helpers/services.js';

it('survives its idle PostgreSQL connections being terminated, and reconnects', async () => {
  const database = await createPostgresDatabase('terminated');
  const errors: Error[] = [];
  const store = await openStore(database.url, { onConnectionError: (error) => errors.push(error) });
  // Several idle connections in the pool.
  await Promise.all(Array.from({ length: 3 }, () => sql`select pg_sleep(0.05)`.execute(store.db)));

  // What a PostgreSQL restart does to them, limited to this test's database.
  const admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  const terminated = await admin.query(
    'select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
  );
  await admin.end();
  expect(terminated.rowCount).toBeGreaterThanOrEqual(3);
  for (let waited = 0; errors.length < 3 && waited < 2000; waited += 20)
    await new Promise((resolve) => setTimeout(resolve, 20));
  expect(errors.length).toBeGreaterThanOrEqual(3);

  const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db);
  expect(rows[0]!.one).toBe(1);
  await store.close();
  await database.drop();
});
