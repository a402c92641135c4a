/**
 * The SQLite store's bulk insert, and the worker thread that runs it for database files:
 * better-sqlite3 is synchronous, so a batch of ledger rows written on the main thread would stop
 * the gateway for milliseconds. The worker opens its own connection to the same file (WAL lets
 * the main connection read meanwhile); an in-memory database is written in-process.
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
  /** Marks the worker this module runs in as the writer (the module is imported elsewhere too). */
  sqliteWriter: true;
  path: string;
}

/**
 * Inserts rows (value lists in the order of `columns`) in one transaction, skipping those whose
 * `conflictColumn` exists, through one prepared statement per table and column list.
 */
export function insertBatch(
  db: SqliteDatabase.Database,
  statements: Map<string, SqliteDatabase.Statement>,
  batch: Omit<InsertBatch, 'id'>,
): void {
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
}

const data = workerData as WriterData | undefined;
if (parentPort && data?.sqliteWriter) {
  const port = parentPort;
  const db = new SqliteDatabase(data.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  const statements = new Map<string, SqliteDatabase.Statement>();
  port.on('message', (batch: InsertBatch) => {
    try {
      insertBatch(db, statements, batch);
      port.postMessage({ id: batch.id } satisfies InsertDone);
    } catch (error) {
      port.postMessage({ id: batch.id, error: (error as Error).message } satisfies InsertDone);
    }
  });
  port.once('close', () => db.close());
}
