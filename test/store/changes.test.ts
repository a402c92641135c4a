import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Change,
  ChangeFeed,
  changeFeedFor,
  coalesce,
  latestChange,
  recordChange,
} from '../../src/store/changes.js';
import { openStore, type Store } from '../../src/store/database.js';
import { createPostgresDatabase } from '../helpers/services.js';

const until = async (check: () => boolean, ms = 1500) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return check();
};

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function sqlite(): Promise<Store> {
  const store = await openStore('sqlite::memory:');
  cleanup.push(() => store.close());
  return store;
}

async function postgres(label: string): Promise<Store> {
  const database = await createPostgresDatabase(label);
  const store = await openStore(database.url);
  cleanup.push(async () => {
    await store.close();
    await database.drop();
  });
  return store;
}

describe('change feed', () => {
  it('records a change only when its transaction commits, numbered in order', async () => {
    const store = await sqlite();
    await store.db.transaction().execute((trx) => recordChange(trx, 'key', 'key_a'));
    await expect(
      store.db.transaction().execute(async (trx) => {
        await recordChange(trx, 'budget', 'global:total');
        throw new Error('the change itself failed');
      }),
    ).rejects.toThrow(/failed/);
    const second = await store.db.transaction().execute((trx) => recordChange(trx, 'budget', 'b'));
    const rows = await store.db.selectFrom('changes').selectAll().orderBy('seq').execute();
    expect(rows.map((r) => [r.kind, r.subject])).toEqual([
      ['key', 'key_a'],
      ['budget', 'b'],
    ]);
    expect(second.seq).toBe(await latestChange(store.db));
  });

  it('delivers changes made after start, in order, to the handlers of their kind', async () => {
    const store = await sqlite();
    await store.db.transaction().execute((trx) => recordChange(trx, 'key', 'before-start'));
    const feed = new ChangeFeed(store.db, { pollMs: 20 });
    cleanup.push(() => feed.close());
    const keys: Change[] = [];
    const budgets: Change[] = [];
    feed.on('key', (c) => void keys.push(c));
    const stop = feed.on('budget', (c) => void budgets.push(c));
    await feed.start();
    for (const subject of ['k1', 'k2', 'k3'])
      await store.db.transaction().execute((trx) => recordChange(trx, 'key', subject));
    await store.db.transaction().execute((trx) => recordChange(trx, 'budget', 'b1'));
    expect(await until(() => keys.length === 3 && budgets.length === 1)).toBe(true);
    expect(keys.map((c) => c.subject)).toEqual(['k1', 'k2', 'k3']);
    stop();
    await store.db.transaction().execute((trx) => recordChange(trx, 'budget', 'b2'));
    await store.db.transaction().execute((trx) => recordChange(trx, 'key', 'k4'));
    expect(await until(() => keys.length === 4)).toBe(true);
    expect(budgets).toHaveLength(1);
  });

  it('keeps delivering after a handler throws', async () => {
    const store = await sqlite();
    const errors: string[] = [];
    const feed = new ChangeFeed(store.db, { pollMs: 20, onError: (_e, where) => errors.push(where) });
    cleanup.push(() => feed.close());
    const seen: string[] = [];
    feed.on('key', (c) => {
      if (c.subject === 'bad') throw new Error('handler failed');
      seen.push(c.subject);
    });
    await feed.start();
    await store.db.transaction().execute((trx) => recordChange(trx, 'key', 'bad'));
    await store.db.transaction().execute((trx) => recordChange(trx, 'key', 'good'));
    expect(await until(() => seen.length === 1)).toBe(true);
    expect(errors).toEqual(['handler']);
  });

  it('on PostgreSQL, is woken by NOTIFY well before its poll, and listens again after losing the connection', async () => {
    const store = await postgres('feed');
    // A poll this slow cannot explain a delivery within 300 ms: only the NOTIFY wake-up can.
    const feed = changeFeedFor(store, { pollMs: 1000, reconnectMs: 50 });
    cleanup.push(() => feed.close());
    const seen: string[] = [];
    feed.on('budget', (c) => void seen.push(c.subject));
    await feed.start();
    expect(feed.listening).toBe(true);
    // Let the first poll tick pass, so the next one is ~1 s away.
    await new Promise((r) => setTimeout(r, 1050));
    await store.db.transaction().execute((trx) => recordChange(trx, 'budget', 'one'));
    expect(await until(() => seen.length === 1, 300)).toBe(true);

    // Cut the LISTEN connection from the server side: the feed reconnects and listens again.
    const admin = new pg.Client({ connectionString: store.url });
    await admin.connect();
    await admin.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query like 'LISTEN%' and pid <> pg_backend_pid()",
    );
    await admin.end();
    expect(await until(() => !feed.listening, 1000)).toBe(true);
    expect(await until(() => feed.listening, 2000)).toBe(true);
    await store.db.transaction().execute((trx) => recordChange(trx, 'budget', 'two'));
    expect(await until(() => seen.length === 2, 1500)).toBe(true);
    expect(seen).toEqual(['one', 'two']);
  });
});

describe('coalesce', () => {
  it('runs a job once more after calls made while it ran, never twice at once', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    const job = coalesce(async () => {
      running++;
      most = Math.max(most, running);
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      running--;
    });
    await Promise.all([job(), job(), job(), job()]);
    expect(runs).toBe(2);
    expect(most).toBe(1);
  });
});
