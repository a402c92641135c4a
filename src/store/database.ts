import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import {
  type Dialect,
  Kysely,
  type Migration,
  Migrator,
  PostgresAdapter,
  PostgresDialect,
  SqliteDialect,
  sql,
} from 'kysely';
import { migrations } from './migrations/index.js';
import { type InsertBatch, type InsertDone, insertBatch, type WriterData } from './sqlite-writer.js';
import type { Tables } from './tables.js';

export type Database = Kysely<Tables>;
export type StoreKind = 'sqlite' | 'postgres';

export interface Store {
  db: Database;
  kind: StoreKind;
  /** The URL it was opened with (the change feed opens its own PostgreSQL connection from it). */
  url: string;
  /**
   * Appends many rows to a table, skipping rows whose `conflictColumn` value exists. On SQLite
   * one prepared statement runs per row inside one transaction, far cheaper than compiling a
   * multi-row INSERT; for a database file this runs in a worker thread, since the driver is
   * synchronous and would otherwise take the time from the event loop.
   */
  insertRows(table: string, rows: Array<Record<string, unknown>>, conflictColumn: string): Promise<void>;
  close(): Promise<void>;
}

/** `sqlite:./sluice.db`, `sqlite::memory:` or `postgres://user@host:5432/db`. */
export function parseDatabaseUrl(url: string): { kind: StoreKind; target: string } {
  if (url.startsWith('sqlite:'))
    return { kind: 'sqlite', target: url.slice('sqlite:'.length) || './sluice.db' };
  if (url.startsWith('postgres://') || url.startsWith('postgresql://'))
    return { kind: 'postgres', target: url };
  throw new Error(
    `SLUICE_DATABASE_URL "${url.split('@').pop()}" is not supported: use sqlite:./path.db or postgres://user@host:5432/db`,
  );
}

export interface StoreOptions {
  /**
   * A pooled PostgreSQL connection failed while idle (the server restarted, a connection was
   * terminated). The pool drops it and opens a new one when next needed; this only reports it.
   */
  onConnectionError?: (error: Error) => void;
}

/** Opens the store and brings its schema up to date. */
export async function openStore(url: string, options: StoreOptions = {}): Promise<Store> {
  const { kind, target } = parseDatabaseUrl(url);
  let dialect: Dialect;
  let sqlite: SqliteDatabase.Database | undefined;
  if (kind === 'sqlite') {
    sqlite = new SqliteDatabase(target);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    dialect = new SqliteDialect({ database: sqlite });
  } else {
    // The driver is loaded only for a PostgreSQL store.
    const { default: pg } = await import('pg');
    // int8 columns (counts, times in ms, costs) come back as JavaScript numbers, not strings.
    pg.types.setTypeParser(20, (value) => Number(value));
    // A connection attempt gives up after a while, so a store that went away fails fast and the
    // ledger spools, rather than its writes waiting on a connect that never completes.
    const pool = new pg.Pool({ connectionString: target, max: 10, connectionTimeoutMillis: 5000 });
    // Without a listener a connection's failure is an unhandled 'error' event: the process exits.
    // The pool listens to idle connections only; a checked-out one between two queries (inside a
    // transaction) needs its own, and a query running on it still fails as usual.
    pool.on('error', (error) => options.onConnectionError?.(error));
    pool.on('connect', (client) => client.on('error', (error) => options.onConnectionError?.(error)));
    dialect = new PostgresDialect({ pool });
  }
  const db = new Kysely<Tables>({ dialect });
  await migrate(db);
  const writer = sqlite && !isMemory(target) ? sqliteWriterThread(target) : undefined;
  const insertRows: Store['insertRows'] = writer
    ? writer.insertRows
    : sqlite
      ? sqliteInserter(sqlite)
      : async (table, rows, conflictColumn) => {
          if (rows.length === 0) return;
          await db
            .insertInto(table)
            .values(rows)
            .onConflict((conflict) => conflict.column(conflictColumn).doNothing())
            .execute();
        };
  return {
    db,
    kind,
    url,
    insertRows,
    async close() {
      await writer?.close();
      await db.destroy();
    },
  };
}

/**
 * Runs `work` in a transaction that writes. On SQLite it begins IMMEDIATE: a deferred transaction
 * that reads first fails at its first write (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not
 * wait out) when another connection — the gateway's ledger writer, the CLI — wrote meanwhile.
 */
export async function writeTransaction<DB, T>(
  db: Kysely<DB>,
  work: (trx: Kysely<DB>) => Promise<T>,
): Promise<T> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) return db.transaction().execute(work);
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const result = await work(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => {});
      throw error;
    }
  });
}

const isMemory = (target: string) => target === ':memory:' || target.includes('mode=memory');

/** Bulk inserts into a SQLite file through the writer thread (see sqlite-writer.ts). */
function sqliteWriterThread(path: string): { insertRows: Store['insertRows']; close(): Promise<void> } {
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  const outstanding = new Set<Promise<void>>();
  let worker: Worker | undefined;
  let nextId = 0;
  const failAll = (error: Error) => {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };
  const start = () => {
    // Run from the TypeScript sources (tests), the worker first registers the same loader (tsx).
    const script = new URL(
      import.meta.url.endsWith('.ts') ? './sqlite-writer.ts' : './sqlite-writer.js',
      import.meta.url,
    );
    const options = { workerData: { sqliteWriter: true, path } satisfies WriterData };
    const started = script.pathname.endsWith('.ts')
      ? new Worker(
          `require(${JSON.stringify(createRequire(import.meta.url).resolve('tsx/cjs/api'))}).register();` +
            `require(${JSON.stringify(fileURLToPath(script))});`,
          { ...options, eval: true },
        )
      : new Worker(script, options);
    started.on('message', (done: InsertDone) => {
      const waiting = pending.get(done.id);
      pending.delete(done.id);
      if (pending.size === 0) started.unref();
      if (done.error) waiting?.reject(new Error(done.error));
      else waiting?.resolve();
    });
    started.on('error', (error) => failAll(error));
    started.on('exit', (code) => {
      if (worker === started) worker = undefined;
      failAll(new Error(`the SQLite writer thread stopped (exit code ${code})`));
    });
    return started;
  };
  return {
    insertRows(table, rows, conflictColumn) {
      if (rows.length === 0) return Promise.resolve();
      worker ??= start();
      // Referenced only while a batch is out, so an idle writer never keeps the process alive.
      worker.ref();
      const columns = Object.keys(rows[0]!);
      const batch: InsertBatch = {
        id: nextId++,
        table,
        columns,
        conflictColumn,
        rows: rows.map((row) => columns.map((c) => row[c] ?? null)),
      };
      const written = new Promise<void>((resolve, reject) => {
        pending.set(batch.id, { resolve, reject });
        worker!.postMessage(batch);
      });
      outstanding.add(written);
      const forget = () => outstanding.delete(written);
      written.then(forget, forget);
      return written;
    },
    async close() {
      // Batches already handed over are written before the thread stops.
      await Promise.allSettled([...outstanding]);
      const stopping = worker;
      worker = undefined;
      await stopping?.terminate();
    },
  };
}

function sqliteInserter(sqlite: SqliteDatabase.Database): Store['insertRows'] {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return async (table, rows, conflictColumn) => {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    const values = rows.map((row) => columns.map((c) => row[c] ?? null));
    insertBatch(sqlite, statements, { table, columns, conflictColumn, rows: values });
  };
}

async function migrate(db: Database): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations as Record<string, Migration> },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `store migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
