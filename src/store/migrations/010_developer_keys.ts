import type { Kysely } from 'kysely';

/**
 * Keys for Claude Code and agents (docs/keys-and-environments.md): the developer a key belongs
 * to (spend by developer); its kind (`standard`, an `exchange` credential that only buys
 * short-lived keys, or a `short_lived` key bought with one, whose parent it names); and its own
 * runaway-guard settings (JSON, docs/limits.md).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('virtual_keys').addColumn('developer', 'varchar(200)').execute();
  await db.schema
    .alterTable('virtual_keys')
    .addColumn('kind', 'varchar(20)', (c) => c.notNull().defaultTo('standard'))
    .execute();
  await db.schema.alterTable('virtual_keys').addColumn('parent_id', 'varchar(40)').execute();
  await db.schema.alterTable('virtual_keys').addColumn('guards', 'text').execute();
  await db.schema.createIndex('virtual_keys_parent').on('virtual_keys').column('parent_id').execute();
  await db.schema.createIndex('virtual_keys_developer').on('virtual_keys').column('developer').execute();
}
