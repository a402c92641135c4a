/**
 * The SQLite store's bulk writer, run in a worker thread: better-sqlite3 is synchronous, so a
 * batch of ledger rows written on the main thread would stop the gateway for milliseconds. The
 * worker opens its own connection to the same file (WAL lets the main connection read meanwhile).
 */
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';

/** One batch: rows as value lists in the order of `columns`. */
export interface InsertBatch {
  id: number;
  table: string;
  columns: string[];
  conflictColumn: string;
  rows: unknown[][];
}

export interface InsertDone {
  id: number;
  error?: string;
}

export interface WriterData {
  path: string;
}

if (parentPort) {
  const port = parentPort;
  const db = new SqliteDatabase((workerData as WriterData).path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const statements = new Map<string, SqliteDatabase.Statement>();
  port.on('message', (batch: InsertBatch) => {
    try {
      const key = `${batch.table}(${batch.columns.join(',')})`;
      let statement = statements.get(key);
      if (!statement) {
        const names = batch.columns.map((c) => `"${c}"`).join(', ');
        const marks = batch.columns.map(() => '?').join(', ');
        statement = db.prepare(
          `INSERT INTO "${batch.table}" (${names}) VALUES (${marks}) ON CONFLICT("${batch.conflictColumn}") DO NOTHING`,
        );
        statements.set(key, statement);
      }
      const run = statement;
      db.transaction(() => {
        for (const row of batch.rows) run.run(row);
      })();
      port.postMessage({ id: batch.id } satisfies InsertDone);
    } catch (error) {
      port.postMessage({ id: batch.id, error: (error as Error).message } satisfies InsertDone);
    }
  });
  port.once('close', () => db.close());
}
