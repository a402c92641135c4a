import type { Kysely } from 'kysely';

/**
 * Who made a request beyond its key: the client's session and agent ids and the client's name,
 * version and entrypoint (Claude Code and Agent SDK traffic say them in headers and the body),
 * so spend can be grouped per session and per client. Indexed for `sluice spend --by session`.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema as it was then.
export async function up(db: Kysely<any>): Promise<void> {
  for (const column of ['session_id', 'agent_id', 'client', 'client_version', 'client_entrypoint'])
    await db.schema.alterTable('ledger').addColumn(column, 'varchar(100)').execute();
  await db.schema.createIndex('ledger_session_at').on('ledger').columns(['session_id', 'at']).execute();
}
