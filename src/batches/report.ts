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

/** Recent batches and the deferral queue, for `GET /admin/batches` and the dashboard. */
export async function batchOverview(database: AnyDb, options: { limit: number; since: Date }) {
  const db = database as unknown as BatchDb;
  const [recent, deferred, spend] = await Promise.all([
    db
      .selectFrom('message_batches')
      .select([
        'id',
        'environment',
        'state',
        'request_count',
        'succeeded',
        'errored',
        'canceled',
        'expired',
        'cost_pico',
        'live_cost_pico',
        'created_at',
      ])
      .orderBy('created_at', 'desc')
      .limit(options.limit)
      .execute(),
    batchStates(database),
    batchSpend(database, { since: options.since }),
  ]);
  return {
    data: recent.map((b) => ({
      id: b.id,
      environment: b.environment,
      state: b.state,
      requests: Number(b.request_count),
      succeeded: b.succeeded === null ? null : Number(b.succeeded),
      errored: b.errored === null ? null : Number(b.errored),
      canceled: b.canceled === null ? null : Number(b.canceled),
      cost_usd: b.cost_pico === null ? null : formatUsd(BigInt(b.cost_pico), 6),
      live_cost_usd: b.live_cost_pico === null ? null : formatUsd(BigInt(b.live_cost_pico), 6),
      created_at: new Date(Number(b.created_at)).toISOString(),
    })),
    deferred: deferred.deferred,
    spend,
  };
}

/** Batches by state and deferred requests by state (the metrics and the overview). */
export async function batchStates(database: AnyDb): Promise<{
  batches: Record<string, number>;
  deferred: Record<string, number>;
}> {
  const db = database as unknown as BatchDb;
  const [batches, deferred] = await Promise.all([
    db
      .selectFrom('message_batches')
      .select(['state', sql<number>`count(*)`.as('n')])
      .groupBy('state')
      .execute(),
    db
      .selectFrom('deferred_requests')
      .select(['state', sql<number>`count(*)`.as('n')])
      .groupBy('state')
      .execute(),
  ]);
  return {
    batches: Object.fromEntries(
      ['in_progress', 'recorded'].map((s) => [s, Number(batches.find((r) => r.state === s)?.n ?? 0)]),
    ),
    deferred: Object.fromEntries(
      ['queued', 'submitted', 'done'].map((s) => [s, Number(deferred.find((r) => r.state === s)?.n ?? 0)]),
    ),
  };
}
