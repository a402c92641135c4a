import { sql } from 'kysely';
import type { Catalog } from '../catalog/catalog.js';
import { cacheReadSavingsOfTokens } from '../catalog/cost.js';
import { toPico } from '../catalog/money.js';
import { type AnyDb, type LedgerDailyTable, moneyDb } from './tables.js';

export const DAY_MS = 86_400_000;

/**
 * Ledger rows in `[from, before)` grouped per UTC day, key, environment, model, batch flag and
 * `inference_geo` (what cache savings depend on), with the sums the reports and the rollup keep.
 */
/**
 * Groupings only raw ledger rows can give: the client's session, and the client as
 * `name version (entrypoint)`. Empty when the row does not say.
 */
const RAW_DIMENSIONS = {
  session: sql<string>`coalesce(session_id, '')`,
  client: sql<string>`trim(coalesce(client, '') || ' ' || coalesce(client_version, '') || case when client_entrypoint is null then '' else ' (' || client_entrypoint || ')' end)`,
};
export type RawDimension = keyof typeof RAW_DIMENSIONS;

export function dailyLedgerGroups(
  database: AnyDb,
  range: { from?: number; before: number },
  /** A further grouping, selected as `dimension` (raw rows only: the rollup does not keep it). */
  dimension?: RawDimension,
) {
  let query = moneyDb(database).selectFrom('ledger').where('at', '<', range.before);
  if (range.from !== undefined) query = query.where('at', '>=', range.from);
  const extra = dimension ? RAW_DIMENSIONS[dimension] : sql<string>`''`;
  return query
    .select([
      extra.as('dimension'),
      sql<number>`at / ${sql.lit(DAY_MS)}`.as('day_number'),
      sql<string>`coalesce(key_id, '')`.as('key'),
      'environment',
      'model',
      'batch',
      'geo',
      sql<number>`count(*)`.as('requests'),
      sql<number>`sum(case when priced = 0 then 1 else 0 end)`.as('unpriced'),
      sql<number>`sum(input_tokens)`.as('input'),
      sql<number>`sum(output_tokens)`.as('output'),
      sql<number>`sum(cache_write_5m_tokens)`.as('write5m'),
      sql<number>`sum(cache_write_1h_tokens)`.as('write1h'),
      sql<number>`sum(cache_read_tokens)`.as('read'),
      sql<string>`cast(sum(cost_pico) as text)`.as('cost'),
    ])
    .groupBy([
      // Not a constant: PostgreSQL refuses to group by one.
      ...(dimension ? [extra] : []),
      sql`at / ${sql.lit(DAY_MS)}`,
      sql`coalesce(key_id, '')`,
      'environment',
      'model',
      'batch',
      'geo',
    ])
    .execute();
}

export function dayOf(epochMs: number): string {
  return new Date(Math.floor(epochMs / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

export function startOfUtcDay(epochMs: number): number {
  return Math.floor(epochMs / DAY_MS) * DAY_MS;
}

/** A `ledger_daily` row being summed, with its amounts as exact bigints. */
type DailyTotal = Omit<LedgerDailyTable, 'cost_pico' | 'cache_savings_pico'> & {
  cost: bigint;
  savings: bigint;
};

export interface PruneResult {
  /** Raw rows removed (their totals are now in `ledger_daily`). */
  rowsPruned: number;
  /** Day/key/model totals added to or updated in the rollup. */
  rollupRows: number;
  /** Rows older than this (start of a UTC day) were pruned. */
  cutoff: Date;
}

/**
 * Moves the totals of rows older than `before` (rounded down to a UTC day) into the daily rollup,
 * then deletes those rows, in one transaction: totals stay the same, the table gets smaller.
 */
export async function pruneLedger(
  database: AnyDb,
  options: { before: Date; catalog: Catalog },
): Promise<PruneResult> {
  const cutoff = startOfUtcDay(options.before.getTime());
  return moneyDb(database)
    .transaction()
    .execute(async (trx) => {
      const groups = await dailyLedgerGroups(trx, { before: cutoff });
      const totals = new Map<string, DailyTotal>();
      for (const g of groups) {
        const day = dayOf(Number(g.day_number) * DAY_MS);
        const id = `${day}\u0000${g.key}\u0000${g.environment}\u0000${g.model}`;
        let total = totals.get(id);
        if (!total) {
          total = {
            day,
            key_id: g.key,
            environment: g.environment,
            model: g.model,
            requests: 0,
            unpriced_requests: 0,
            input_tokens: 0,
            output_tokens: 0,
            cache_write_5m_tokens: 0,
            cache_write_1h_tokens: 0,
            cache_read_tokens: 0,
            cost: 0n,
            savings: 0n,
          };
          totals.set(id, total);
        }
        total.requests += Number(g.requests);
        total.unpriced_requests += Number(g.unpriced);
        total.input_tokens += Number(g.input);
        total.output_tokens += Number(g.output);
        total.cache_write_5m_tokens += Number(g.write5m);
        total.cache_write_1h_tokens += Number(g.write1h);
        total.cache_read_tokens += Number(g.read);
        total.cost += toPico(g.cost);
        total.savings +=
          cacheReadSavingsOfTokens(Number(g.read), g.model, new Date(`${day}T12:00:00Z`), {
            catalog: options.catalog,
            batch: g.batch === 1,
            inferenceGeo: g.geo,
          }) ?? 0n;
      }
      for (const { cost, savings, ...row } of totals.values()) {
        await trx
          .insertInto('ledger_daily')
          .values({ ...row, cost_pico: cost.toString(), cache_savings_pico: savings.toString() })
          .onConflict((conflict) =>
            conflict.columns(['day', 'key_id', 'environment', 'model']).doUpdateSet((eb) => ({
              requests: eb('ledger_daily.requests', '+', eb.ref('excluded.requests')),
              unpriced_requests: eb(
                'ledger_daily.unpriced_requests',
                '+',
                eb.ref('excluded.unpriced_requests'),
              ),
              input_tokens: eb('ledger_daily.input_tokens', '+', eb.ref('excluded.input_tokens')),
              output_tokens: eb('ledger_daily.output_tokens', '+', eb.ref('excluded.output_tokens')),
              cache_write_5m_tokens: eb(
                'ledger_daily.cache_write_5m_tokens',
                '+',
                eb.ref('excluded.cache_write_5m_tokens'),
              ),
              cache_write_1h_tokens: eb(
                'ledger_daily.cache_write_1h_tokens',
                '+',
                eb.ref('excluded.cache_write_1h_tokens'),
              ),
              cache_read_tokens: eb(
                'ledger_daily.cache_read_tokens',
                '+',
                eb.ref('excluded.cache_read_tokens'),
              ),
              cost_pico: eb('ledger_daily.cost_pico', '+', eb.ref('excluded.cost_pico')),
              cache_savings_pico: eb(
                'ledger_daily.cache_savings_pico',
                '+',
                eb.ref('excluded.cache_savings_pico'),
              ),
            })),
          )
          .execute();
      }
      const deleted = await trx.deleteFrom('ledger').where('at', '<', cutoff).executeTakeFirst();
      return {
        rowsPruned: Number(deleted.numDeletedRows),
        rollupRows: totals.size,
        cutoff: new Date(cutoff),
      };
    });
}
