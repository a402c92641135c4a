import type { Kysely } from 'kysely';

/**
 * Catalogs installed by `sluice catalog update`, kept in the shared store so that every gateway
 * instance, on any host, puts a new one in force when the change feed announces it.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('catalog_documents')
    .addColumn('version', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('installed_at', 'bigint', (c) => c.notNull())
    .execute();
}
