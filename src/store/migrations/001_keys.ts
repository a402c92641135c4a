import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('virtual_keys')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
    .addColumn('environment', 'varchar(100)', (c) => c.notNull())
    .addColumn('key_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('hint', 'varchar(40)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('models', 'text')
    .addColumn('max_tokens', 'integer')
    .addColumn('rpm', 'integer')
    .addColumn('tpm', 'integer')
    .addColumn('tpd', 'bigint')
    .addColumn('priority', 'varchar(20)')
    .addColumn('max_tier', 'varchar(20)')
    .addColumn('allow_auto', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('rotated_from', 'varchar(40)')
    .execute();
  await db.schema
    .createTable('key_events')
    .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('event', 'varchar(40)', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
}
