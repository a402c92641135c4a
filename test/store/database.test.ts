import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, parseDatabaseUrl } from '../../src/store/database.js';
import { createPostgresDatabase } from '../helpers/services.js';

describe('parseDatabaseUrl', () => {
  it('accepts sqlite and postgres URLs and names the fix otherwise', () => {
    expect(parseDatabaseUrl('sqlite:./x.db')).toEqual({ kind: 'sqlite', target: './x.db' });
    expect(parseDatabaseUrl('postgres://u@h/db').kind).toBe('postgres');
    expect(() => parseDatabaseUrl('mysql://root:secret@h/db')).toThrow(/use sqlite:/);
    expect(() => parseDatabaseUrl('mysql://root:secret@h/db')).not.toThrow(/secret/);
  });
});

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

for (const kind of ['sqlite', 'sqlite-file', 'postgres'] as const) {
  describe(`store on ${kind}`, () => {
    it('migrates, round-trips a key row with epoch-ms integers, and re-opens idempotently', async () => {
      let url = 'sqlite::memory:';
      if (kind === 'sqlite-file') {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
        cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
        url = `sqlite:${join(dir, 'sluice.db')}`;
      }
      if (kind === 'postgres') {
        const database = await createPostgresDatabase('store');
        cleanups.push(database.drop);
        url = database.url;
      }
      const store = await openStore(url);
      const now = 1_790_000_000_123;
      await store.db
        .insertInto('virtual_keys')
        .values({
          id: 'key_1',
          name: 'production-api-backend',
          environment: 'production',
          key_hash: 'a'.repeat(64),
          hint: 'sk-sluice-…abcd',
          created_at: now,
          expires_at: null,
          revoked_at: null,
          last_used_at: null,
          models: null,
          max_tokens: 1024,
          rpm: null,
          tpm: null,
          tpd: 5_000_000_000,
          priority: null,
          max_tier: null,
          allow_auto: 1,
          rotated_from: null,
        })
        .execute();
      const row = await store.db
        .selectFrom('virtual_keys')
        .selectAll()
        .where('id', '=', 'key_1')
        .executeTakeFirstOrThrow();
      expect(row.created_at).toBe(now);
      expect(row.tpd).toBe(5_000_000_000);
      await expect(
        store.db
          .insertInto('virtual_keys')
          .values({ ...row, id: 'key_2' })
          .execute(),
      ).rejects.toThrow();
      // Bulk insert: new rows land, a row whose id exists is skipped, values keep their types.
      const more = [2, 3, 1].map((n) => ({
        ...row,
        id: `key_${n}`,
        name: `prod-bulk-k${n}`,
        key_hash: String(n).repeat(64),
      }));
      await store.insertRows('virtual_keys', more, 'id');
      const all = await store.db.selectFrom('virtual_keys').selectAll().orderBy('id').execute();
      expect(all.map((r) => r.id)).toEqual(['key_1', 'key_2', 'key_3']);
      expect(all[0]!.name).toBe('production-api-backend');
      expect(all[2]!.tpd).toBe(5_000_000_000);
      await store.db.deleteFrom('virtual_keys').where('id', '!=', 'key_1').execute();
      if (kind !== 'sqlite') {
        await store.close();
        const again = await openStore(url);
        expect((await again.db.selectFrom('virtual_keys').select('id').execute()).length).toBe(1);
        await again.close();
      } else {
        await store.close();
      }
    });
  });
}

describe('SQLite file store bulk writes', () => {
  it('go through the writer thread: rows are readable at once, errors come back, and close writes what was handed over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-writer-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const url = `sqlite:${join(dir, 'sluice.db')}`;
    const store = await openStore(url);
    const row = (n: number) => ({
      id: `key_${n}`,
      name: `prod-bulk-k${n}`,
      environment: 'production',
      key_hash: String(n % 10).repeat(63) + String(n),
      hint: 'sk-sluice-…abcd',
      created_at: 1_790_000_000_000 + n,
      allow_auto: 1,
    });
    await expect(store.insertRows('no_such_table', [row(0)], 'id')).rejects.toThrow(/no such table/);
    await store.insertRows('virtual_keys', [row(1), row(2)], 'id');
    expect((await store.db.selectFrom('virtual_keys').select('id').execute()).length).toBe(2);
    // Handed over without waiting, then closed: every row is there when the file is opened again.
    const batches = [0, 1, 2, 3].map((b) =>
      store.insertRows(
        'virtual_keys',
        Array.from({ length: 250 }, (_, i) => row(10 + b * 250 + i)),
        'id',
      ),
    );
    await store.close();
    await Promise.all(batches);
    const again = await openStore(url);
    expect((await again.db.selectFrom('virtual_keys').select('id').execute()).length).toBe(1002);
    await again.close();
  });
});
