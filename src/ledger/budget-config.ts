import { sql } from 'kysely';
import { z } from 'zod';
import { sharedCountersSchema } from '../store/redis-config.js';
import { DEFAULT_ANOMALY } from './alerts.js';
import { DEFAULT_THRESHOLDS, deleteBudget, listBudgets, setBudget } from './budget-store.js';
import type { AnyDb } from './tables.js';

const usd = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .pipe(z.string().regex(/^\d+(\.\d{1,12})?$/, 'a USD amount such as "100" or "2.50"'));
const thresholds = z.array(z.number().positive().max(1000)).min(1);
const window = z.enum(['daily', 'monthly', 'total']);

const limitSchema = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('global'), window, usd, thresholds: thresholds.optional() }).strict(),
  z
    .object({
      scope: z.literal('environment'),
      environment: z.string().min(1),
      window,
      usd,
      thresholds: thresholds.optional(),
    })
    .strict(),
  /** `key` is a virtual key's id or its name. */
  z
    .object({
      scope: z.literal('key'),
      key: z.string().min(1),
      window,
      usd,
      thresholds: thresholds.optional(),
    })
    .strict(),
]);

/**
 * The `budgets` section of sluice.yaml:
 *
 * ```yaml
 * budgets:
 *   thresholds: [50, 80, 100]
 *   webhook: { urlEnv: SLUICE_ALERT_WEBHOOK_URL }
 *   anomaly: { multiple: 3, trailingHours: 24, minHourlyUsd: "1" }
 *   store: { backend: redis, url: redis://127.0.0.1:6379 }   # several instances
 *   limits:
 *     - { scope: global, window: monthly, usd: "500" }
 *     - { scope: environment, environment: production, window: daily, usd: "50" }
 *     - { scope: key, key: prod-backend-v1, window: total, usd: "20" }
 * ```
 */
export const budgetsConfigSchema = z
  .object({
    thresholds: thresholds.default(DEFAULT_THRESHOLDS),
    webhook: z
      .object({
        /** The URL itself, or (better, it is a secret) the name of the variable that holds it. */
        url: z.url().optional(),
        urlEnv: z.string().default('SLUICE_ALERT_WEBHOOK_URL'),
        attempts: z.number().int().positive().default(4),
      })
      .strict()
      .default({ urlEnv: 'SLUICE_ALERT_WEBHOOK_URL', attempts: 4 }),
    anomaly: z
      .object({
        enabled: z.boolean().default(true),
        multiple: z.number().positive().default(DEFAULT_ANOMALY.multiple),
        trailingHours: z.number().int().positive().default(DEFAULT_ANOMALY.trailingHours),
        minHourlyUsd: usd.default(DEFAULT_ANOMALY.minHourlyUsd),
        checkEveryMs: z.number().int().positive().default(300_000),
      })
      .strict()
      .default({ enabled: true, ...DEFAULT_ANOMALY, checkEveryMs: 300_000 }),
    /**
     * A large request whose byte bound would not fit in what is left of a budget is counted
     * exactly with the upstream's count_tokens before it is refused.
     */
    countTokens: z
      .object({
        enabled: z.boolean().default(false),
        /** Only requests whose byte bound is at least this many input tokens. */
        minInputTokens: z.number().int().positive().default(20_000),
        timeoutMs: z.number().int().positive().default(5_000),
      })
      .strict()
      .default({ enabled: false, minInputTokens: 20_000, timeoutMs: 5_000 }),
    /** Where the counters live: memory (one instance) or Redis (shared by several instances). */
    /** Redis unreachable, failOpen true: requests are admitted without budget checks (logged); false: refused. */
    store: sharedCountersSchema('sluice:budgets:'),
    limits: z.array(limitSchema).default([]),
  })
  .strict();

export type BudgetsConfig = z.infer<typeof budgetsConfigSchema>;

export function parseBudgetsConfig(section: unknown): BudgetsConfig {
  return budgetsConfigSchema.parse(section ?? {});
}

export function webhookUrlOf(
  config: BudgetsConfig,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return config.webhook.url ?? (env[config.webhook.urlEnv] || undefined);
}

/**
 * Makes the store's config-sourced budgets match sluice.yaml: adds and updates those listed,
 * removes config budgets no longer listed. Budgets set from the CLI or the API are left alone.
 */
export async function applyBudgetsConfig(
  database: AnyDb,
  config: BudgetsConfig,
): Promise<{ applied: string[]; removed: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  const applied: string[] = [];
  for (const limit of config.limits) {
    let subject = '';
    if (limit.scope === 'environment') subject = limit.environment;
    if (limit.scope === 'key') {
      const resolved = await resolveKeyId(database, limit.key);
      if (!resolved)
        warnings.push(
          `budgets.limits: no virtual key named or with id "${limit.key}"; the budget applies once it exists`,
        );
      subject = resolved ?? limit.key;
    }
    const budget = await setBudget(
      database,
      {
        scope: limit.scope,
        subject,
        window: limit.window,
        usd: limit.usd,
        thresholds: limit.thresholds ?? config.thresholds,
      },
      'config',
    );
    applied.push(budget.id);
  }
  const removed: string[] = [];
  for (const budget of await listBudgets(database)) {
    if (budget.source === 'config' && !applied.includes(budget.id)) {
      await deleteBudget(database, budget.id);
      removed.push(budget.id);
    }
  }
  return { applied, removed, warnings };
}

/** A virtual key's id from its id or name (keys live in the same store). */
export async function resolveKeyId(database: AnyDb, idOrName: string): Promise<string | undefined> {
  try {
    const row = await database
      .selectFrom('virtual_keys')
      .select(sql<string>`id`.as('id'))
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
    return row?.id;
  } catch {
    return undefined;
  }
}
