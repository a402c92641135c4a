import type { Kysely } from 'kysely';

/**
 * What the response's usage said beyond tokens: speed, server-tool uses and, for a model without
 * a price, why (its cost is then the worst case the budget counted).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('ledger').addColumn('speed', 'varchar(20)').execute();
  for (const column of ['web_search_requests', 'web_fetch_requests', 'code_execution_requests'])
    await db.schema
      .alterTable('ledger')
      .addColumn(column, 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  await db.schema.alterTable('ledger').addColumn('unpriced_reason', 'varchar(40)').execute();
}
