import { sql } from 'kysely';
import { toPico } from '../catalog/money.js';
import { dayOf } from './rollup.js';
import { type AnyDb, moneyDb } from './tables.js';

export interface SpendFilter {
  /** Inclusive start, epoch ms. Rollup days count from the day that contains it. */
  from?: number;
  /** Exclusive end, epoch ms. */
  to?: number;
  keyId?: string;
  environment?: string;
}

/**
 * Spend in pico-dollars over raw rows and pruned daily totals together. Windows that start on a
 * UTC day (budgets) are exact; other starts include pruned totals of the whole first day.
 */
export async function spendTotal(database: AnyDb, filter: SpendFilter = {}): Promise<bigint> {
  const db = moneyDb(database);
  let raw = db.selectFrom('ledger').select(sql<string>`cast(sum(cost_pico) as text)`.as('cost'));
  if (filter.from !== undefined) raw = raw.where('at', '>=', filter.from);
  if (filter.to !== undefined) raw = raw.where('at', '<', filter.to);
  if (filter.keyId !== undefined) raw = raw.where('key_id', '=', filter.keyId);
  if (filter.environment !== undefined) raw = raw.where('environment', '=', filter.environment);
  let rolled = db.selectFrom('ledger_daily').select(sql<string>`cast(sum(cost_pico) as text)`.as('cost'));
  if (filter.from !== undefined) rolled = rolled.where('day', '>=', dayOf(filter.from));
  if (filter.to !== undefined) rolled = rolled.where('day', '<', dayOf(filter.to + 86_399_999));
  if (filter.keyId !== undefined) rolled = rolled.where('key_id', '=', filter.keyId);
  if (filter.environment !== undefined) rolled = rolled.where('environment', '=', filter.environment);
  const [a, b] = await Promise.all([raw.executeTakeFirst(), rolled.executeTakeFirst()]);
  return toPico(a?.cost) + toPico(b?.cost);
}

/** Spend per hour (raw rows only), oldest first, for the anomaly check. */
export async function hourlySpend(database: AnyDb, from: number, to: number): Promise<Map<number, bigint>> {
  const rows = await moneyDb(database)
    .selectFrom('ledger')
    .where('at', '>=', from)
    .where('at', '<', to)
    .select([sql<number>`at / 3600000`.as('hour'), sql<string>`cast(sum(cost_pico) as text)`.as('cost')])
    .groupBy(sql`at / 3600000`)
    .execute();
  return new Map(rows.map((r) => [Number(r.hour) * 3_600_000, toPico(r.cost)]));
}
