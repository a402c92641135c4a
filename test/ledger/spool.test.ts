import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerSpool } from '../../src/ledger/spool.js';
import { LedgerWriter } from '../../src/ledger/writer.js';
import type { Store } from '../../src/store/database.js';
import { entry, storeKinds } from './stores.js';

describe('the ledger spool', () => {
  let store: Store;
  let dir: string;
  beforeEach(async () => {
    store = await storeKinds[0]!.open('spool');
    dir = mkdtempSync(join(tmpdir(), 'sluice-spool-'));
  });
  afterEach(() => store.close());

  const count = async () =>
    (
      await store.db
        .selectFrom('ledger')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n;

  /** The store's insert, refused while `down.value` is true, as a store that went away. */
  function flakyInsert(down: { value: boolean }) {
    return async (table: 'ledger', rows: Array<Record<string, unknown>>, conflict: 'request_id') => {
      if (down.value) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      await store.insertRows(table, rows, conflict);
    };
  }

  it('keeps rows on disk while the store is away and replays them once, when it is back', async () => {
    const down = { value: true };
    const spooled: number[] = [];
    const replayed: number[] = [];
    const writer = new LedgerWriter(store.db, {
      intervalMs: 10_000,
      spool: new LedgerSpool(dir),
      insertRows: flakyInsert(down),
      onSpooled: (n) => spooled.push(n),
      onReplayed: (n) => replayed.push(n),
    });
    for (let i = 0; i < 30; i++) writer.write(entry());
    await writer.flush();
    for (let i = 0; i < 20; i++) writer.write(entry());
    await writer.flush();
    // Nothing waits in memory: all 50 rows are in two segments on disk.
    expect(writer.stats()).toMatchObject({ pending: 0, spooled: 50, written: 0 });
    expect(readdirSync(dir).filter((name) => name.endsWith('.jsonl'))).toHaveLength(2);
    expect(spooled).toEqual([30, 20]);

    down.value = false;
    writer.write(entry());
    await writer.flush();
    expect(await count()).toBe(51);
    expect(replayed).toEqual([50]);
    expect(readdirSync(dir)).toEqual([]);
    // Flushing again replays nothing twice.
    await writer.flush();
    expect(await count()).toBe(51);
    await writer.close();
  });

  it('a restarted writer replays what a previous run spooled, and close() succeeds while the store is away', async () => {
    const down = { value: true };
    const first = new LedgerWriter(store.db, {
      intervalMs: 10_000,
      spool: new LedgerSpool(dir),
      insertRows: flakyInsert(down),
    });
    for (let i = 0; i < 10; i++) first.write(entry());
    await first.close({ attempts: 1 });
    expect(await count()).toBe(0);

    down.value = false;
    const second = new LedgerWriter(store.db, {
      intervalMs: 10_000,
      spool: new LedgerSpool(dir),
      insertRows: flakyInsert(down),
    });
    await second.flush();
    expect(await count()).toBe(10);
    expect(second.stats().replayed).toBe(10);
    await second.close();
  });

  it('two instances sharing a directory replay each segment once', async () => {
    const down = { value: true };
    const a = new LedgerWriter(store.db, {
      intervalMs: 10_000,
      spool: new LedgerSpool(dir),
      insertRows: flakyInsert(down),
    });
    const b = new LedgerWriter(store.db, {
      intervalMs: 10_000,
      spool: new LedgerSpool(dir),
      insertRows: flakyInsert(down),
    });
    for (let i = 0; i < 40; i++) (i % 2 ? a : b).write(entry());
    await Promise.all([a.flush(), b.flush()]);
    down.value = false;
    await Promise.all([a.flush(), b.flush()]);
    expect(await count()).toBe(40);
    expect(a.stats().replayed + b.stats().replayed).toBe(40);
    await Promise.all([a.close(), b.close()]);
  });
});
