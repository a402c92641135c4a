import type { Kysely } from 'kysely';

/**
 * Objects created upstream through Sluice (files, skills; batches may join them), with the
 * virtual key that created each one: another key must not see, read or delete them.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('upstream_objects')
    .addColumn('id', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(40)', (c) => c.notNull())
    .addColumn('key_id', 'varchar(80)', (c) => c.notNull())
    .addColumn('environment', 'varchar(80)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('upstream_objects_by_key')
    .on('upstream_objects')
    .columns(['key_id', 'kind'])
    .execute();
}
