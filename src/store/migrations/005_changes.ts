import { type Kysely, PostgresAdapter } from 'kysely';

/**
 * The change feed (see store/changes.ts): one row per operator change, numbered by an increasing
 * sequence so every instance can ask "anything after N?" with one primary-key range read.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('changes')
    // AUTOINCREMENT on SQLite never reuses a number, even after the newest row is deleted.
    .addColumn('seq', postgres ? 'bigserial' : 'integer', (c) =>
      postgres ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('kind', 'varchar(20)', (c) => c.notNull())
    .addColumn('subject', 'varchar(240)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
}
