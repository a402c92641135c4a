import type { Kysely } from 'kysely';

/**
 * Message Batches sent through Sluice: which virtual key owns each (nobody else sees it), what
 * its budget reservation was, and the collector's lease and outcome. One row per request keeps
 * what the route and guard stages decided for it, and whether its result was recorded.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('message_batches')
    .addColumn('id', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('environment', 'varchar(100)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('request_count', 'integer', (c) => c.notNull())
    .addColumn('reserved_pico', 'bigint', (c) => c.notNull())
    // in_progress until its results are recorded, then recorded.
    .addColumn('state', 'varchar(20)', (c) => c.notNull())
    .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('lease_owner', 'varchar(64)')
    .addColumn('lease_until', 'bigint')
    .addColumn('recorded_at', 'bigint')
    .addColumn('succeeded', 'integer')
    .addColumn('errored', 'integer')
    .addColumn('canceled', 'integer')
    .addColumn('expired', 'integer')
    .addColumn('cost_pico', 'bigint')
    .addColumn('live_cost_pico', 'bigint')
    .execute();
  await db.schema
    .createIndex('message_batches_key')
    .on('message_batches')
    .columns(['key_id', 'created_at'])
    .execute();
  await db.schema.createIndex('message_batches_state').on('message_batches').column('state').execute();
  await db.schema
    .createTable('message_batch_requests')
    .addColumn('batch_id', 'varchar(100)', (c) => c.notNull())
    .addColumn('custom_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('requested_model', 'varchar(100)', (c) => c.notNull())
    .addColumn('model', 'varchar(100)', (c) => c.notNull())
    .addColumn('route_tier', 'varchar(20)')
    .addColumn('route_reason', 'varchar(200)')
    // Set for deferred requests, which share a batch across keys; otherwise the batch's key.
    .addColumn('key_id', 'varchar(40)')
    .addPrimaryKeyConstraint('message_batch_requests_pk', ['batch_id', 'custom_id'])
    .execute();
  await db.schema
    .createTable('deferred_requests')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('environment', 'varchar(100)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('body_bytes', 'integer', (c) => c.notNull())
    .addColumn('requested_model', 'varchar(100)', (c) => c.notNull())
    .addColumn('model', 'varchar(100)', (c) => c.notNull())
    .addColumn('route_tier', 'varchar(20)')
    .addColumn('route_reason', 'varchar(200)')
    .addColumn('callback_url', 'varchar(2000)')
    // queued → submitted (in a batch) → done (result kept here).
    .addColumn('state', 'varchar(20)', (c) => c.notNull())
    .addColumn('batch_id', 'varchar(100)')
    .addColumn('lease_owner', 'varchar(64)')
    .addColumn('lease_until', 'bigint')
    .addColumn('result', 'text')
    .addColumn('delivered_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('deferred_requests_state')
    .on('deferred_requests')
    .columns(['state', 'environment', 'created_at'])
    .execute();
}
