import { sql } from 'kysely';
import type { Catalog } from '../catalog/catalog.js';
import { cacheReadSavingsOfTokens, costOf, costOnModel } from '../catalog/cost.js';
import { formatUsd, toPico, usdToPico } from '../catalog/money.js';
import type { RateLimits } from '../catalog/schema.js';
import type { Usage } from '../pipeline/types.js';
import { windowAt } from './budget-window.js';
import { spendTotal } from './queries.js';
import { DAY_MS, dailyLedgerGroups, dayOf, type RawDimension } from './rollup.js';
import { type AnyDb, moneyDb } from './tables.js';

/** What `sluice spend --by` groups on; session and client come from raw rows only. */
export const SPEND_DIMENSIONS = ['model', 'key', 'env', 'day', 'developer', 'session', 'client'] as const;
export type SpendDimension = (typeof SPEND_DIMENSIONS)[number];
const RAW_ONLY: ReadonlySet<SpendDimension> = new Set(['session', 'client']);

export interface SpendLine {
  requests: number;
  unpriced_requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  cost_usd: string;
  cache_savings_usd: string;
}

export interface SpendReport {
  since: string;
  until: string;
  by: SpendDimension | null;
  total: SpendLine;
  groups: Array<SpendLine & { group: string; name?: string }>;
  /**
   * Server-tool uses in rows not yet pruned. Web searches are in the costs; code execution is
   * billed per container hour per organization, so it is counted here but not priced.
   */
  server_tools: { web_search_requests: number; web_fetch_requests: number; code_execution_requests: number };
}

interface Accumulator {
  requests: number;
  unpriced: number;
  input: number;
  output: number;
  write5m: number;
  write1h: number;
  read: number;
  cost: bigint;
  savings: bigint;
}

type Sums = Record<
  'requests' | 'unpriced' | 'input' | 'output' | 'write5m' | 'write1h' | 'read' | 'cost',
  unknown
>;

/** The sums of a grouped query (raw rows or daily totals) as an accumulator; savings come apart. */
function accumulatorOf(sums: Sums, savings: bigint): Accumulator {
  return {
    requests: Number(sums.requests),
    unpriced: Number(sums.unpriced),
    input: Number(sums.input),
    output: Number(sums.output),
    write5m: Number(sums.write5m),
    write1h: Number(sums.write1h),
    read: Number(sums.read),
    cost: toPico(sums.cost),
    savings,
  };
}

const emptyAccumulator = (): Accumulator => ({
  requests: 0,
  unpriced: 0,
  input: 0,
  output: 0,
  write5m: 0,
  write1h: 0,
  read: 0,
  cost: 0n,
  savings: 0n,
});

function add(into: Accumulator, from: Accumulator): void {
  into.requests += from.requests;
  into.unpriced += from.unpriced;
  into.input += from.input;
  into.output += from.output;
  into.write5m += from.write5m;
  into.write1h += from.write1h;
  into.read += from.read;
  into.cost += from.cost;
  into.savings += from.savings;
}

function line(a: Accumulator): SpendLine {
  return {
    requests: a.requests,
    unpriced_requests: a.unpriced,
    input_tokens: a.input,
    output_tokens: a.output,
    cache_write_5m_tokens: a.write5m,
    cache_write_1h_tokens: a.write1h,
    cache_read_tokens: a.read,
    cost_usd: formatUsd(a.cost, 6),
    cache_savings_usd: formatUsd(a.savings, 6),
  };
}

/**
 * Totals, tokens, requests and cache savings since a moment, over raw rows and pruned daily
 * totals, optionally grouped by model, key, environment, UTC day, client session or client
 * (pruned totals keep no session or client: they count under the empty group).
 */
export async function spendReport(
  database: AnyDb,
  options: { since: Date; by?: SpendDimension; catalog: Catalog; now?: number },
): Promise<SpendReport> {
  const db = moneyDb(database);
  const from = options.since.getTime();
  const until = options.now ?? Date.now();
  const groups = new Map<string, Accumulator>();
  const total = emptyAccumulator();
  const groupOf = (row: {
    model: string;
    key: string;
    environment: string;
    day: string;
    dimension?: string;
  }) => {
    if (options.by && RAW_ONLY.has(options.by)) return row.dimension ?? '';
    if (options.by === 'model') return row.model;
    // A developer's spend is their keys' spend, gathered below.
    if (options.by === 'key' || options.by === 'developer') return row.key;
    if (options.by === 'env') return row.environment;
    if (options.by === 'day') return row.day;
    return '';
  };
  const collect = (group: string, a: Accumulator) => {
    const g = groups.get(group) ?? emptyAccumulator();
    groups.set(group, g);
    add(g, a);
    add(total, a);
  };

  const raw = await dailyLedgerGroups(
    db,
    { from, before: until },
    options.by && RAW_ONLY.has(options.by) ? (options.by as RawDimension) : undefined,
  );
  for (const r of raw) {
    const day = dayOf(Number(r.day_number) * DAY_MS);
    const read = Number(r.read);
    const savings =
      cacheReadSavingsOfTokens(read, r.model, new Date(`${day}T12:00:00Z`), {
        catalog: options.catalog,
        batch: r.batch === 1,
        inferenceGeo: r.geo,
        track: false,
      }) ?? 0n;
    collect(groupOf({ ...r, day }), accumulatorOf(r, savings));
  }

  const rolled = await db
    .selectFrom('ledger_daily')
    .where('day', '>=', dayOf(from))
    .where('day', '<=', dayOf(until))
    .select([
      'day',
      'key_id',
      'environment',
      'model',
      sql<number>`sum(requests)`.as('requests'),
      sql<number>`sum(unpriced_requests)`.as('unpriced'),
      sql<number>`sum(input_tokens)`.as('input'),
      sql<number>`sum(output_tokens)`.as('output'),
      sql<number>`sum(cache_write_5m_tokens)`.as('write5m'),
      sql<number>`sum(cache_write_1h_tokens)`.as('write1h'),
      sql<number>`sum(cache_read_tokens)`.as('read'),
      sql<string>`cast(sum(cost_pico) as text)`.as('cost'),
      sql<string>`cast(sum(cache_savings_pico) as text)`.as('savings'),
    ])
    .groupBy(['day', 'key_id', 'environment', 'model'])
    .execute();
  for (const r of rolled) {
    collect(
      groupOf({ model: r.model, key: r.key_id, environment: r.environment, day: r.day }),
      accumulatorOf(r, toPico(r.savings)),
    );
  }

  const tools = await db
    .selectFrom('ledger')
    .where('at', '>=', from)
    .where('at', '<', until)
    .select([
      sql<number>`coalesce(sum(web_search_requests), 0)`.as('search'),
      sql<number>`coalesce(sum(web_fetch_requests), 0)`.as('fetch'),
      sql<number>`coalesce(sum(code_execution_requests), 0)`.as('code'),
    ])
    .executeTakeFirst();

  if (options.by === 'developer') await regroupByDeveloper(database, groups);
  const names =
    options.by === 'key' ? await keyNames(database, [...groups.keys()]) : new Map<string, string>();
  const ordered = [...groups.entries()].sort((a, b) =>
    options.by === 'day'
      ? a[0].localeCompare(b[0])
      : b[1].cost === a[1].cost
        ? a[0].localeCompare(b[0])
        : b[1].cost > a[1].cost
          ? 1
          : -1,
  );
  return {
    since: new Date(from).toISOString(),
    until: new Date(until).toISOString(),
    by: options.by ?? null,
    total: line(total),
    groups: options.by
      ? ordered.map(([group, a]) => ({
          group,
          ...(names.has(group) ? { name: names.get(group)! } : {}),
          ...line(a),
        }))
      : [],
    server_tools: {
      web_search_requests: Number(tools?.search ?? 0),
      web_fetch_requests: Number(tools?.fetch ?? 0),
      code_execution_requests: Number(tools?.code ?? 0),
    },
  };
}

/** Key groups merged into their keys' developers; keys without one are grouped under "". */
async function regroupByDeveloper(database: AnyDb, groups: Map<string, Accumulator>): Promise<void> {
  const ids = [...groups.keys()].filter((id) => id !== '');
  const rows =
    ids.length === 0
      ? []
      : ((await database
          .selectFrom('virtual_keys')
          .select(['id', 'developer'])
          .where('id', 'in', ids)
          .execute()) as Array<{ id: string; developer: string | null }>);
  const developerOf = new Map(rows.map((r) => [r.id, r.developer ?? '']));
  const byKey = [...groups.entries()];
  groups.clear();
  for (const [keyId, a] of byKey) {
    const developer = developerOf.get(keyId) ?? '';
    const g = groups.get(developer) ?? emptyAccumulator();
    groups.set(developer, g);
    add(g, a);
  }
}

async function keyNames(database: AnyDb, ids: string[]): Promise<Map<string, string>> {
  const known = ids.filter((id) => id !== '');
  if (known.length === 0) return new Map();
  try {
    const rows = (await database
      .selectFrom('virtual_keys')
      .select(['id', 'name'])
      .where('id', 'in', known)
      .execute()) as Array<{
      id: string;
      name: string;
    }>;
    return new Map(rows.map((r) => [r.id, r.name]));
  } catch {
    return new Map();
  }
}

export interface RoutingReport {
  since: string;
  baseline_model: string;
  routed_requests: number;
  /** Requests left out of the sums because their model or the baseline has no price. */
  unpriced_requests: number;
  actual_usd: string;
  baseline_usd: string;
  saved_usd: string;
  saved_percent: number | null;
  tiers: Array<{ tier: string; requests: number; actual_usd: string; baseline_usd: string }>;
}

/**
 * For routed requests: what they cost against what the same usage would have cost on the
 * critical tier's model. Covers rows not yet pruned.
 */
export async function routingReport(
  database: AnyDb,
  options: { since: Date; catalog: Catalog; baselineModel: string },
): Promise<RoutingReport> {
  const rows = await moneyDb(database)
    .selectFrom('ledger')
    .where('at', '>=', options.since.getTime())
    .where('route_tier', 'is not', null)
    .select([
      'route_tier',
      'model',
      'at',
      'input_tokens',
      'output_tokens',
      'cache_write_5m_tokens',
      'cache_write_1h_tokens',
      'cache_read_tokens',
      'cost_pico',
      'priced',
      'batch',
      'geo',
    ])
    .execute();
  const tiers = new Map<string, { requests: number; actual: bigint; baseline: bigint }>();
  let actual = 0n;
  let baseline = 0n;
  let unpriced = 0;
  for (const row of rows) {
    const usage = usageOfRow(row);
    const tier = row.route_tier!;
    const t = tiers.get(tier) ?? { requests: 0, actual: 0n, baseline: 0n };
    tiers.set(tier, t);
    t.requests += 1;
    const other = costOnModel(usage, options.baselineModel, new Date(Number(row.at)), {
      catalog: options.catalog,
      batch: row.batch === 1,
      inferenceGeo: row.geo,
    });
    if (row.priced !== 1 || !other.priced) {
      unpriced += 1;
      continue;
    }
    const cost = BigInt(row.cost_pico);
    t.actual += cost;
    t.baseline += other.pico;
    actual += cost;
    baseline += other.pico;
  }
  const saved = baseline - actual;
  return {
    since: options.since.toISOString(),
    baseline_model: options.catalog.model(options.baselineModel)?.id ?? options.baselineModel,
    routed_requests: rows.length,
    unpriced_requests: unpriced,
    actual_usd: formatUsd(actual, 6),
    baseline_usd: formatUsd(baseline, 6),
    saved_usd: formatUsd(saved, 6),
    saved_percent: baseline > 0n ? Number((saved * 10_000n) / baseline) / 100 : null,
    tiers: [...tiers.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([tier, v]) => ({
        tier,
        requests: v.requests,
        actual_usd: formatUsd(v.actual, 6),
        baseline_usd: formatUsd(v.baseline, 6),
      })),
  };
}

export interface PoolUsage {
  pool: string;
  limits: RateLimits;
  /** The busiest minute in the last 30 days, per kind (each kind's own busiest minute). */
  peak: { rpm: number; itpm: number; otpm: number };
  headroom_percent: { rpm: number; itpm: number; otpm: number };
}

export interface TierReport {
  tier: string;
  /** Which of the tier's figures no primary source confirms. */
  unconfirmed: string[];
  monthly_spend_cap_usd: string | null;
  spend_30d_usd: string;
  spend_this_month_usd: string;
  cumulative_usd: string;
  pools: PoolUsage[];
  /** Tiers are assigned by usage history and account standing, not bought. */
  next_tier: { name: string; limits: Record<string, RateLimits> } | null;
  warnings: string[];
}

const STAGNATION_PERCENT = 80;

/**
 * Spend against the configured tier, and the busiest minutes the ledger saw per rate-limit pool
 * (requests, input tokens as ITPM counts them, output tokens) against the tier's limits.
 */
export async function tierReport(
  database: AnyDb,
  options: { catalog: Catalog; tier: string; now?: number },
): Promise<TierReport> {
  const { catalog } = options;
  const now = options.now ?? Date.now();
  const tier = catalog.tier(options.tier);
  if (!tier) throw new Error(`unknown tier "${options.tier}"; known: ${catalog.tierNames().join(', ')}`);
  const since = now - 30 * DAY_MS;
  const [spend30, spendMonth, cumulative] = await Promise.all([
    spendTotal(database, { from: since, to: now }),
    spendTotal(database, { from: windowAt('monthly', now).start, to: now }),
    spendTotal(database),
  ]);

  const minutes = await moneyDb(database)
    .selectFrom('ledger')
    .where('at', '>=', since)
    .where('upstream_status', 'is not', null)
    .select([
      sql<number>`at / 60000`.as('minute'),
      'model',
      sql<number>`count(*)`.as('requests'),
      sql<number>`sum(input_tokens + cache_write_5m_tokens + cache_write_1h_tokens)`.as('input'),
      sql<number>`sum(output_tokens)`.as('output'),
    ])
    .groupBy([sql`at / 60000`, 'model'])
    .execute();
  const perClassMinute = new Map<string, { rpm: number; itpm: number; otpm: number }>();
  for (const m of minutes) {
    const modelClass = catalog.model(m.model)?.pool ?? 'unknown';
    const id = `${modelClass}\u0000${m.minute}`;
    const cell = perClassMinute.get(id) ?? { rpm: 0, itpm: 0, otpm: 0 };
    cell.rpm += Number(m.requests);
    cell.itpm += Number(m.input);
    cell.otpm += Number(m.output);
    perClassMinute.set(id, cell);
  }
  const peaks = new Map<string, { rpm: number; itpm: number; otpm: number }>();
  for (const [id, cell] of perClassMinute) {
    const modelClass = id.split('\u0000')[0]!;
    const peak = peaks.get(modelClass) ?? { rpm: 0, itpm: 0, otpm: 0 };
    peak.rpm = Math.max(peak.rpm, cell.rpm);
    peak.itpm = Math.max(peak.itpm, cell.itpm);
    peak.otpm = Math.max(peak.otpm, cell.otpm);
    peaks.set(modelClass, peak);
  }

  const warnings: string[] = [];
  const classes: PoolUsage[] = [];
  const classNames = [...new Set([...Object.keys(tier.limits), ...peaks.keys()])].filter(
    (c) => c !== 'unknown',
  );
  for (const modelClass of classNames) {
    const limits = catalog.tierLimits(tier.name, modelClass);
    const peak = peaks.get(modelClass) ?? { rpm: 0, itpm: 0, otpm: 0 };
    const headroom = (used: number, limit: number) => Math.round((1 - used / limit) * 1000) / 10;
    classes.push({
      pool: modelClass,
      limits,
      peak,
      headroom_percent: {
        rpm: headroom(peak.rpm, limits.rpm),
        itpm: headroom(peak.itpm, limits.itpm),
        otpm: headroom(peak.otpm, limits.otpm),
      },
    });
    const kinds = [
      ['requests per minute', peak.rpm, limits.rpm],
      ['input tokens per minute', peak.itpm, limits.itpm],
      ['output tokens per minute', peak.otpm, limits.otpm],
    ] as const;
    for (const [kind, used, limit] of kinds) {
      if (used * 100 > limit * STAGNATION_PERCENT) {
        warnings.push(
          `tier stagnation: ${modelClass} ${kind} peaked at ${used.toLocaleString('en-US')} of ${limit.toLocaleString('en-US')} ` +
            `(${Math.round((used / limit) * 100)}%) on ${tier.name}`,
        );
      }
    }
  }

  const index = catalog.tiers.indexOf(tier);
  const next = catalog.tiers[index + 1];
  const nextTier: TierReport['next_tier'] = next ? { name: next.name, limits: next.limits } : null;
  if (next && warnings.length > 0) {
    warnings.push(
      `${next.name} is assigned by usage history and account standing; request a rate-limit increase in the Console once 50% of the limits are used`,
    );
  }
  if (tier.monthlySpendCapUsd !== undefined) {
    const cap = usdToPico(tier.monthlySpendCapUsd);
    if (spendMonth * 100n > cap * BigInt(STAGNATION_PERCENT)) {
      warnings.push(
        `this month's spend $${formatUsd(spendMonth, 2)} is above 80% of ${tier.name}'s monthly cap of $${tier.monthlySpendCapUsd}`,
      );
    }
  }

  return {
    tier: tier.name,
    unconfirmed: tier.unconfirmed ?? [],
    monthly_spend_cap_usd: tier.monthlySpendCapUsd ?? null,
    spend_30d_usd: formatUsd(spend30, 6),
    spend_this_month_usd: formatUsd(spendMonth, 6),
    cumulative_usd: formatUsd(cumulative, 6),
    pools: classes,
    next_tier: nextTier,
    warnings,
  };
}

/** Re-prices a stored row from its counts (audits: the row plus the catalog give its cost). */
export function repriceRow(
  row: {
    model: string;
    at: number;
    input_tokens: number;
    output_tokens: number;
    cache_write_5m_tokens: number;
    cache_write_1h_tokens: number;
    cache_read_tokens: number;
    batch: number;
    geo: string | null;
    speed?: string | null;
    web_search_requests?: number;
  },
  catalog: Catalog,
) {
  return costOf(usageOfRow(row), row.model, new Date(Number(row.at)), {
    catalog,
    batch: row.batch === 1,
    inferenceGeo: row.geo,
    track: false,
  });
}

/** A ledger row's counts in the API's usage shape, so rows can be priced again. */
function usageOfRow(row: {
  input_tokens: number;
  output_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cache_read_tokens: number;
  speed?: string | null;
  web_search_requests?: number;
}): Usage {
  return {
    ...(row.speed ? { speed: row.speed } : {}),
    ...(row.web_search_requests ? { server_tool_use: { web_search_requests: row.web_search_requests } } : {}),
    input_tokens: row.input_tokens,
    output_tokens: row.output_tokens,
    cache_creation_input_tokens: row.cache_write_5m_tokens + row.cache_write_1h_tokens,
    cache_read_input_tokens: row.cache_read_tokens,
    cache_creation: {
      ephemeral_5m_input_tokens: row.cache_write_5m_tokens,
      ephemeral_1h_input_tokens: row.cache_write_1h_tokens,
    },
  };
}
