import { sql } from 'kysely';
import { z } from 'zod';
import { formatUsdExact, usdToPico } from '../catalog/money.js';
import { type AnyDb, type BudgetScope, type BudgetWindow, moneyDb } from './tables.js';

export const DEFAULT_THRESHOLDS = [50, 80, 100];
/** A USD amount as budgets take it: "100", "2.50". */
export const USD_AMOUNT = /^\d+(\.\d{1,12})?$/;

export interface Budget {
  id: string;
  scope: BudgetScope;
  /** Key id, environment name, or '' for the global budget. */
  subject: string;
  /** The key's name, for a key budget whose key exists: what people are shown instead of its id. */
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

/** Creates or replaces a budget (one per scope, subject and window). */
export async function setBudget(
  database: AnyDb,
  input: BudgetInput,
  source: Budget['source'],
  now = Date.now(),
): Promise<Budget> {
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
  if (budget.scope === 'key') {
    const name = (await keyNames(database, [budget.subject])).get(budget.subject);
    if (name !== undefined) budget.subjectName = name;
  }
  await moneyDb(database)
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
  return budget;
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
  const names = await keyNames(
    database,
    rows.filter((row) => row.scope === 'key').map((row) => row.subject),
  );
  return rows.map((row) => {
    const budget: Budget = {
      id: row.id,
      scope: row.scope,
      subject: row.subject,
      window: row.window,
      limitPico: BigInt(row.limit_pico),
      thresholds: JSON.parse(row.thresholds) as number[],
      source: row.source as Budget['source'],
    };
    const name = row.scope === 'key' ? names.get(row.subject) : undefined;
    if (name !== undefined) budget.subjectName = name;
    return budget;
  });
}

/** Names of the virtual keys with these ids (keys live in the same store; none if it has no keys). */
async function keyNames(database: AnyDb, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  try {
    const rows = await database
      .selectFrom('virtual_keys')
      .select([sql<string>`id`.as('id'), sql<string>`name`.as('name')])
      .where('id', 'in', ids)
      .execute();
    return new Map(rows.map((row) => [row.id, row.name]));
  } catch {
    return new Map();
  }
}

/** Removes a budget; true when it existed. */
export async function deleteBudget(database: AnyDb, id: string): Promise<boolean> {
  const result = await moneyDb(database).deleteFrom('budgets').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
