import { sql } from 'kysely';
import { formatUsd } from '../catalog/money.js';
import type { AnyDb } from '../ledger/tables.js';
import type { BatchDb } from './tables.js';

/** What Message Batches cost since a moment, and what the same usage would have cost live. */
export interface BatchSpend {
  batches: number;
  succeeded_requests: number;
  cost_usd: string;
  live_cost_usd: string;
  saved_usd: string;
  /** Batches whose results are not recorded yet (still running, or waiting for the collector). */
  in_progress: number;
}

export async function batchSpend(database: AnyDb, options: { since: Date }): Promise<BatchSpend> {
  const db = database as unknown as BatchDb;
  const row = await db
    .selectFrom('message_batches')
    .where('created_at', '>=', options.since.getTime())
    .select([
      sql<number>`count(*)`.as('batches'),
      sql<number>`coalesce(sum(succeeded), 0)`.as('succeeded'),
      sql<string>`cast(coalesce(sum(cost_pico), 0) as text)`.as('cost'),
      sql<string>`cast(coalesce(sum(live_cost_pico), 0) as text)`.as('live'),
      sql<number>`coalesce(sum(case when state = 'in_progress' then 1 else 0 end), 0)`.as('open'),
    ])
    .executeTakeFirstOrThrow();
  const cost = BigInt(row.cost);
  const live = BigInt(row.live);
  return {
    batches: Number(row.batches),
    succeeded_requests: Number(row.succeeded),
    cost_usd: formatUsd(cost, 6),
    live_cost_usd: formatUsd(live, 6),
    saved_usd: formatUsd(live - cost, 6),
    in_progress: Number(row.open),
  };
}
