import SqliteDatabase from 'better-sqlite3';
import { type Dialect, Kysely, type Migration, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrations } from './migrations/index.js';
import type { Tables } from './tables.js';

// int8 columns (counts, times in ms, costs) come back as JavaScript numbers, not strings.
pg.types.setTypeParser(20, (value) => Number(value));

export type Database = Kysely<Tables>;
export type StoreKind = 'sqlite' | 'postgres';

export interface Store {
  db: Database;
  kind: StoreKind;
  /**
   * Appends many rows to a table, skipping rows whose `conflictColumn` value exists. On SQLite
   * one prepared statement runs per row inside one transaction, far cheaper than compiling a
   * multi-row INSERT (the driver is synchronous, so this time is taken from the event loop).
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

/** Opens the store and brings its schema up to date. */
export async function openStore(url: string): Promise<Store> {
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
    dialect = new PostgresDialect({ pool: new pg.Pool({ connectionString: target, max: 10 }) });
  }
  const db = new Kysely<Tables>({ dialect });
  await migrate(db);
  const insertRows: Store['insertRows'] = sqlite
    ? sqliteInserter(sqlite)
    : async (table, rows, conflictColumn) => {
        if (rows.length === 0) return;
        await db
          .insertInto(table)
          .values(rows)
          .onConflict((conflict) => conflict.column(conflictColumn).doNothing())
          .execute();
      };
  return { db, kind, insertRows, close: () => db.destroy() };
}

function sqliteInserter(sqlite: SqliteDatabase.Database): Store['insertRows'] {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return async (table, rows, conflictColumn) => {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    const key = `${table}(${columns.join(',')})`;
    let statement = statements.get(key);
    if (!statement) {
      const names = columns.map((c) => `"${c}"`).join(', ');
      const marks = columns.map(() => '?').join(', ');
      statement = sqlite.prepare(
        `INSERT INTO "${table}" (${names}) VALUES (${marks}) ON CONFLICT("${conflictColumn}") DO NOTHING`,
      );
      statements.set(key, statement);
    }
    const run = statement;
    sqlite.transaction(() => {
      for (const row of rows) run.run(columns.map((c) => row[c] ?? null));
    })();
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
