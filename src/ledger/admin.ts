import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import { formatUsd } from '../catalog/money.js';
import { ApiError } from '../pipeline/errors.js';
import { CHANGE_BOUND_MS, type Change } from '../store/changes.js';
import { resolveKeyId } from './budget-config.js';
import { type Budget, budgetInputSchema, deleteBudget, listBudgets, setBudget } from './budget-store.js';
import { windowAt } from './budget-window.js';
import { spendTotal } from './queries.js';
import { routingReport, spendReport, tierReport } from './reports.js';
import type { AnyDb } from './tables.js';

export interface MoneyAdminContext {
  db: AnyDb;
  catalog: Catalog;
  /** Reloaded after a change so the running gateway enforces it at once. */
  enforcer?: { load(): Promise<void> };
  /** The configured rate-limit tier and the critical tier's model (for routing savings). */
  tier?: string;
  criticalModel?: string;
  clock?: () => number;
}

/**
 * When a change is in force: on the instance that made it, at once (`here`, after its reload);
 * on every other running instance, within the feed's bound of its being stored (`everywhere_by`).
 */
export function enforcedJson(change: Change, here: number) {
  return {
    stored_at: new Date(change.at).toISOString(),
    here: new Date(here).toISOString(),
    everywhere_by: new Date(change.at + CHANGE_BOUND_MS).toISOString(),
  };
}

/** A budget as JSON: amounts as USD decimal strings. */
export function budgetJson(budget: Budget, spentPico?: bigint, now = Date.now()) {
  const { start, end } = windowAt(budget.window, now);
  return {
    id: budget.id,
    scope: budget.scope,
    subject: budget.subject,
    ...(budget.subjectName === undefined ? {} : { subject_name: budget.subjectName }),
    window: budget.window,
    limit_usd: formatUsd(budget.limitPico, 6),
    thresholds: budget.thresholds,
    source: budget.source,
    window_start: new Date(start).toISOString(),
    resets_at: end === null ? null : new Date(end).toISOString(),
    ...(spentPico === undefined ? {} : { spent_usd: formatUsd(spentPico, 6) }),
  };
}

const sinceSchema = z
  .string()
  .regex(/^\d+[dh]$/, 'a duration such as "30d" or "12h"')
  .default('30d');

export function sinceToDate(since: string, now = Date.now()): Date {
  const amount = Number(since.slice(0, -1));
  const unit = since.endsWith('h') ? 3_600_000 : 86_400_000;
  return new Date(now - amount * unit);
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new ApiError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
}

/**
 * Handlers for the admin API, as plain functions on parsed JSON; each returns the JSON to send
 * and throws `ApiError` (400 / 404) for bad input. The server mounts them, e.g.
 * `PUT /admin/budgets` → `setBudget(body)`, `GET /admin/spend?by=model` → `spend(query)`.
 */
export function moneyAdmin(context: MoneyAdminContext) {
  const now = () => (context.clock ?? Date.now)();
  return {
    async listBudgets() {
      const budgets = await listBudgets(context.db);
      const data = [];
      for (const budget of budgets) {
        const { start } = windowAt(budget.window, now());
        const filter =
          budget.scope === 'key'
            ? { keyId: budget.subject }
            : budget.scope === 'environment'
              ? { environment: budget.subject }
              : {};
        data.push(budgetJson(budget, await spendTotal(context.db, { from: start, ...filter }), now()));
      }
      return { data };
    },

    async setBudget(body: unknown) {
      const input = parse(budgetInputSchema, body);
      if (input.scope === 'key')
        input.subject = (await resolveKeyId(context.db, input.subject)) ?? input.subject;
      const budget = await setBudget(context.db, input, 'api', now());
      await context.enforcer?.load();
      return { ...budgetJson(budget, undefined, now()), enforced: enforcedJson(budget.change, Date.now()) };
    },

    async deleteBudget(id: string) {
      if (!(await deleteBudget(context.db, id))) throw new ApiError(404, `no budget with id "${id}"`);
      await context.enforcer?.load();
      return { id, deleted: true };
    },

    async spend(query: unknown) {
      const q = parse(
        z.object({ since: sinceSchema, by: z.enum(['model', 'key', 'env', 'day', 'developer']).optional() }),
        query,
      );
      return spendReport(context.db, {
        since: sinceToDate(q.since, now()),
        by: q.by,
        catalog: context.catalog,
        now: now(),
      });
    },

    async routing(query: unknown) {
      const q = parse(z.object({ since: sinceSchema }), query);
      return routingReport(context.db, {
        since: sinceToDate(q.since, now()),
        catalog: context.catalog,
        baselineModel: context.criticalModel ?? context.catalog.routingDefaults.critical,
      });
    },

    async tier() {
      return tierReport(context.db, {
        catalog: context.catalog,
        tier: context.tier ?? context.catalog.defaultTier,
        now: now(),
      });
    },
  };
}

export type MoneyAdmin = ReturnType<typeof moneyAdmin>;
