import { sql } from 'kysely';
import { z } from 'zod';
import { formatUsdExact, usdToPico } from '../catalog/money.js';
import { type Change, recordChange } from '../store/changes.js';
import { writeTransaction } from '../store/database.js';
import { type AnyDb, type BudgetScope, type BudgetWindow, moneyDb } from './tables.js';

/** A USD amount as budgets take it: whole dollars or up to twelve decimals. */
export const USD_AMOUNT = /^\d+(\.\d{1,12})?$/;

export const DEFAULT_THRESHOLDS = [50, 80, 100];

export interface Budget {
  id: string;
  scope: BudgetScope;
  /** Key id, environment name, or '' for the global budget. */
  subject: string;
  /** How people know the subject: the key's name (its id until the key exists), the environment. */
  subjectName?: string;
  window: BudgetWindow;
  limitPico: bigint;
  /** Percentages of the limit at which an alert is sent, ascending. */
  thresholds: number[];
  source: 'cli' | 'api' | 'config';
}

export const budgetInputSchema = z
  .object({
    scope: z.enum(['key', 'environment', 'global']),
    subject: z.string().default(''),
    window: z.enum(['daily', 'monthly', 'total']),
    /** The limit in USD, as a decimal string or number ("100", "2.50"). */
    usd: z
      .union([z.string(), z.number()])
      .transform((v) => String(v))
      .pipe(z.string().regex(USD_AMOUNT, 'a USD amount such as "100" or "2.50"')),
    thresholds: z.array(z.number().positive().max(1000)).min(1).optional(),
  })
  .refine((b) => (b.scope === 'global') === (b.subject === ''), {
    message: 'a key or environment budget names its subject; the global budget has none',
    path: ['subject'],
  });

export type BudgetInput = z.input<typeof budgetInputSchema>;

export function budgetId(scope: BudgetScope, subject: string, window: BudgetWindow): string {
  return scope === 'global' ? `global:${window}` : `${scope}:${subject}:${window}`;
}

/** "key prod-backend" or "environment production" or "the gateway": a budget's owner, by name. */
export function budgetOwner(budget: Pick<Budget, 'scope' | 'subject' | 'subjectName'>): string {
  return budget.scope === 'global'
    ? 'the gateway'
    : `${budget.scope} ${budget.subjectName ?? budget.subject}`;
}

/** "monthly budget of environment production ($500)" — how refusals and alerts name a budget. */
export function describeBudget(
  budget: Pick<Budget, 'scope' | 'subject' | 'subjectName' | 'window' | 'limitPico'>,
): string {
  const owner = budgetOwner(budget);
  const span = budget.window === 'total' ? 'total (prepaid)' : budget.window;
  return `${span} budget of ${owner} ($${formatUsdExact(budget.limitPico)})`;
}

/**
 * Creates or replaces a budget (one per scope, subject and window) and puts the change on the
 * feed in the same transaction, so running gateways enforce it within a second (`change.at`).
 * A new limit starts its alerts afresh: those sent were about the old one.
 */
export async function setBudget(
  database: AnyDb,
  input: BudgetInput,
  source: Budget['source'],
  now = Date.now(),
): Promise<Budget & { change: Change }> {
  const parsed = budgetInputSchema.parse(input);
  const budget: Budget = {
    id: budgetId(parsed.scope, parsed.subject, parsed.window),
    scope: parsed.scope,
    subject: parsed.subject,
    window: parsed.window,
    limitPico: usdToPico(parsed.usd),
    thresholds: [...new Set(parsed.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => a - b),
    source,
  };
  const change = await writeTransaction(database, async (trx) => {
    const db = moneyDb(trx);
    const before = await db
      .selectFrom('budgets')
      .select(sql<string>`cast(limit_pico as text)`.as('limit_pico'))
      .where('id', '=', budget.id)
      .executeTakeFirst();
    if (before && BigInt(before.limit_pico) !== budget.limitPico)
      await db.deleteFrom('budget_alerts').where('budget_id', '=', budget.id).execute();
    await db
      .insertInto('budgets')
      .values({
        id: budget.id,
        scope: budget.scope,
        subject: budget.subject,
        window: budget.window,
        limit_pico: budget.limitPico.toString(),
        thresholds: JSON.stringify(budget.thresholds),
        source,
        created_at: now,
        updated_at: now,
      })
      .onConflict((conflict) =>
        conflict.column('id').doUpdateSet({
          limit_pico: budget.limitPico.toString(),
          thresholds: JSON.stringify(budget.thresholds),
          source,
          updated_at: now,
        }),
      )
      .execute();
    return recordChange(trx, 'budget', budget.id);
  });
  const [named] = await withSubjectNames(database, [budget]);
  return { ...named!, change };
}

export async function listBudgets(database: AnyDb): Promise<Budget[]> {
  // The limit is read as text: the store reads int8 as a JavaScript number, inexact above 2^53.
  const rows = await moneyDb(database)
    .selectFrom('budgets')
    .select([
      'id',
      'scope',
      'subject',
      'window',
      'thresholds',
      'source',
      sql<string>`cast(limit_pico as text)`.as('limit_pico'),
    ])
    .orderBy('id')
    .execute();
  const budgets = rows.map((row) => ({
    id: row.id,
    scope: row.scope,
    subject: row.subject,
    window: row.window,
    limitPico: BigInt(row.limit_pico),
    thresholds: JSON.parse(row.thresholds) as number[],
    source: row.source as Budget['source'],
  }));
  return withSubjectNames(database, budgets);
}

/** Adds each key budget's key name (keys live in the same store), so alerts and refusals can use it. */
export async function withSubjectNames(database: AnyDb, budgets: Budget[]): Promise<Budget[]> {
  const ids = [...new Set(budgets.filter((b) => b.scope === 'key').map((b) => b.subject))];
  const names = new Map<string, string>();
  if (ids.length > 0) {
    const rows = await database
      .selectFrom('virtual_keys')
      .select(['id', 'name'])
      .where('id', 'in', ids)
      .execute()
      .catch(() => []);
    for (const row of rows as Array<{ id: string; name: string }>) names.set(row.id, row.name);
  }
  return budgets.map((budget) =>
    budget.scope === 'global'
      ? budget
      : { ...budget, subjectName: names.get(budget.subject) ?? budget.subject },
  );
}

/** Removes a budget (and says so on the change feed); true when it existed. */
export async function deleteBudget(database: AnyDb, id: string): Promise<boolean> {
  return writeTransaction(database, async (trx) => {
    const result = await moneyDb(trx).deleteFrom('budgets').where('id', '=', id).executeTakeFirst();
    const deleted = Number(result.numDeletedRows) > 0;
    if (deleted) await recordChange(trx, 'budget', id);
    return deleted;
  });
}
