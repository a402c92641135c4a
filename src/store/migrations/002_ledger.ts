import type { Kysely } from 'kysely';

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('ledger')
    .addColumn('request_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('upstream_request_id', 'varchar(128)')
    .addColumn('key_id', 'varchar(40)')
    .addColumn('environment', 'varchar(100)', (c) => c.notNull())
    .addColumn('requested_model', 'varchar(100)', (c) => c.notNull())
    .addColumn('model', 'varchar(100)', (c) => c.notNull())
    .addColumn('route_tier', 'varchar(20)')
    .addColumn('route_reason', 'varchar(200)')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('upstream_status', 'integer')
    .addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('ttft_ms', 'integer')
    .addColumn('input_tokens', 'integer', (c) => c.notNull())
    .addColumn('output_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_write_5m_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_write_1h_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_read_tokens', 'integer', (c) => c.notNull())
    .addColumn('cost_pico', 'bigint', (c) => c.notNull())
    .addColumn('priced', 'integer', (c) => c.notNull())
    .addColumn('batch', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('geo', 'varchar(20)')
    .execute();
  await db.schema.createIndex('ledger_at').on('ledger').column('at').execute();
  await db.schema.createIndex('ledger_key_at').on('ledger').columns(['key_id', 'at']).execute();

  await db.schema
    .createTable('ledger_daily')
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('environment', 'varchar(100)', (c) => c.notNull())
    .addColumn('model', 'varchar(100)', (c) => c.notNull())
    .addColumn('requests', 'bigint', (c) => c.notNull())
    .addColumn('unpriced_requests', 'bigint', (c) => c.notNull())
    .addColumn('input_tokens', 'bigint', (c) => c.notNull())
    .addColumn('output_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cache_write_5m_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cache_write_1h_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cache_read_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cost_pico', 'bigint', (c) => c.notNull())
    .addColumn('cache_savings_pico', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('ledger_daily_pk', ['day', 'key_id', 'environment', 'model'])
    .execute();
}
