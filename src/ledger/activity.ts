import { sql } from 'kysely';
import { formatUsd, toPico } from '../catalog/money.js';
import { type AnyDb, moneyDb } from './tables.js';

/**
 * Ledger activity over time, for the dashboard and scripts alike: spend per time step, request
 * outcomes per time step (the upstream's 429/529 apart from Sluice's own refusals), and the
 * latest requests' metadata. Read from the ledger, so every instance on one store sees the same.
 */

export type SeriesDimension = 'model' | 'key' | 'env';

export interface SpendSeries {
  since: string;
  until: string;
  step_ms: number;
  by: SeriesDimension;
  /** Start of each step, epoch ms, oldest first; every series has one value per step. */
  steps: number[];
  series: Array<{ group: string; name?: string; cost_usd: string; points: string[] }>;
}

/** Steps of a range: at least one, at most `maxSteps` (so a wide range gets wider steps). */
export function stepsOf(from: number, until: number, stepMs: number): number[] {
  const first = Math.floor(from / stepMs) * stepMs;
  const steps: number[] = [];
  for (let at = first; at < until; at += stepMs) steps.push(at);
  return steps.length > 0 ? steps : [first];
}

export async function spendSeries(
  database: AnyDb,
  options: { from: number; until: number; stepMs: number; by: SeriesDimension },
): Promise<SpendSeries> {
  const db = moneyDb(database);
  const { from, until, stepMs, by } = options;
  const steps = stepsOf(from, until, stepMs);
  const column = by === 'model' ? 'model' : by === 'env' ? 'environment' : 'key_id';
  const raw = await db
    .selectFrom('ledger')
    .where('at', '>=', from)
    .where('at', '<', until)
    .select([
      sql<number>`at / ${sql.lit(stepMs)}`.as('step'),
      sql<string>`coalesce(${sql.ref(column)}, '')`.as('grp'),
      sql<string>`cast(sum(cost_pico) as text)`.as('cost'),
    ])
    .groupBy([sql`at / ${sql.lit(stepMs)}`, sql`coalesce(${sql.ref(column)}, '')`])
    .execute();
  // Pruned rows survive as daily totals: each is counted at the start of its day.
  const rolled = await db
    .selectFrom('ledger_daily')
    .where('day', '>=', new Date(from).toISOString().slice(0, 10))
    .where('day', '<=', new Date(until).toISOString().slice(0, 10))
    .select([
      'day',
      sql<string>`${sql.ref(column)}`.as('grp'),
      sql<string>`cast(sum(cost_pico) as text)`.as('cost'),
    ])
    .groupBy(['day', sql`${sql.ref(column)}`])
    .execute();
  const cells = new Map<string, bigint[]>();
  const add = (group: string, at: number, cost: bigint) => {
    const index = Math.min(steps.length - 1, Math.max(0, Math.floor((at - steps[0]!) / stepMs)));
    let row = cells.get(group);
    if (!row) {
      row = steps.map(() => 0n);
      cells.set(group, row);
    }
    row[index]! += cost;
  };
  for (const r of raw) add(r.grp, Number(r.step) * stepMs, toPico(r.cost));
  for (const r of rolled) add(r.grp, Math.max(from, Date.parse(`${r.day}T00:00:00Z`)), toPico(r.cost));
  const names = by === 'key' ? await keyNames(database, [...cells.keys()]) : new Map<string, string>();
  const series = [...cells.entries()]
    .map(([group, row]) => ({ group, total: row.reduce((a, b) => a + b, 0n), row }))
    .sort((a, b) => (a.total === b.total ? a.group.localeCompare(b.group) : a.total < b.total ? 1 : -1))
    .map(({ group, total, row }) => ({
      group,
      ...(names.has(group) ? { name: names.get(group)! } : {}),
      cost_usd: formatUsd(total, 6),
      points: row.map((pico) => formatUsd(pico, 6)),
    }));
  return {
    since: new Date(from).toISOString(),
    until: new Date(until).toISOString(),
    step_ms: stepMs,
    by,
    steps,
    series,
  };
}

/** What became of requests: answered, the upstream's errors, or refused by Sluice before any upstream call. */
export const OUTCOMES = [
  'ok',
  'upstream_429',
  'upstream_529',
  'upstream_error',
  'refused_rate_limit',
  'refused_policy',
  'refused_unavailable',
  'client_closed',
  'other',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * A ledger row's outcome. An upstream status means an upstream attempt answered; a refusal has
 * none (Sluice answered alone: a quota or the queue 429, a budget or policy 400, a 503).
 */
export function outcomeOf(status: number, upstreamStatus: number | null): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 499) return 'client_closed';
  if (upstreamStatus !== null && upstreamStatus >= 400) {
    if (upstreamStatus === 429) return 'upstream_429';
    if (upstreamStatus === 529) return 'upstream_529';
    return 'upstream_error';
  }
  if (upstreamStatus === null) {
    if (status === 429) return 'refused_rate_limit';
    if (status >= 400 && status < 500) return 'refused_policy';
    if (status >= 500) return 'refused_unavailable';
  }
  return 'other';
}

export interface RequestActivity {
  since: string;
  until: string;
  step_ms: number;
  steps: number[];
  totals: Record<Outcome, number> & { requests: number; retries: number };
  /** Per outcome, one count per step. */
  series: Record<Outcome, number[]>;
  /** Upstream attempts beyond the first, per step (retried 429s, 529s and 5xx end up here). */
  retries: number[];
}

export async function requestActivity(
  database: AnyDb,
  options: { from: number; until: number; stepMs: number },
): Promise<RequestActivity> {
  const { from, until, stepMs } = options;
  const steps = stepsOf(from, until, stepMs);
  const rows = await moneyDb(database)
    .selectFrom('ledger')
    .where('at', '>=', from)
    .where('at', '<', until)
    .select([
      sql<number>`at / ${sql.lit(stepMs)}`.as('step'),
      'status',
      'upstream_status',
      sql<number>`count(*)`.as('requests'),
      sql<number>`sum(retries)`.as('retries'),
    ])
    .groupBy([sql`at / ${sql.lit(stepMs)}`, 'status', 'upstream_status'])
    .execute();
  const series = Object.fromEntries(OUTCOMES.map((o) => [o, steps.map(() => 0)])) as Record<
    Outcome,
    number[]
  >;
  const retries = steps.map(() => 0);
  const totals = {
    ...(Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>),
    requests: 0,
    retries: 0,
  };
  for (const row of rows) {
    const index = Math.min(
      steps.length - 1,
      Math.max(0, Math.floor((Number(row.step) * stepMs - steps[0]!) / stepMs)),
    );
    const count = Number(row.requests);
    const outcome = outcomeOf(
      Number(row.status),
      row.upstream_status === null ? null : Number(row.upstream_status),
    );
    series[outcome][index]! += count;
    totals[outcome] += count;
    totals.requests += count;
    retries[index]! += Number(row.retries ?? 0);
    totals.retries += Number(row.retries ?? 0);
  }
  return {
    since: new Date(from).toISOString(),
    until: new Date(until).toISOString(),
    step_ms: stepMs,
    steps,
    totals,
    series,
    retries,
  };
}

/** One request's metadata: never its content, which the ledger does not hold. */
export interface RecentRequest {
  request_id: string;
  at: string;
  key_id: string | null;
  key_name: string | null;
  environment: string;
  requested_model: string;
  model: string;
  route_tier: string | null;
  status: number;
  upstream_status: number | null;
  outcome: Outcome;
  retries: number;
  latency_ms: number;
  ttft_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: string;
}

export async function recentRequests(database: AnyDb, options: { limit: number }): Promise<RecentRequest[]> {
  const rows = await moneyDb(database)
    .selectFrom('ledger')
    .selectAll()
    .orderBy('at', 'desc')
    .orderBy('request_id', 'desc')
    .limit(options.limit)
    .execute();
  const names = await keyNames(
    database,
    rows.map((r) => r.key_id ?? ''),
  );
  return rows.map((r) => {
    const upstreamStatus = r.upstream_status === null ? null : Number(r.upstream_status);
    return {
      request_id: r.request_id,
      at: new Date(Number(r.at)).toISOString(),
      key_id: r.key_id,
      key_name: r.key_id ? (names.get(r.key_id) ?? null) : null,
      environment: r.environment,
      requested_model: r.requested_model,
      model: r.model,
      route_tier: r.route_tier,
      status: Number(r.status),
      upstream_status: upstreamStatus,
      outcome: outcomeOf(Number(r.status), upstreamStatus),
      retries: Number(r.retries),
      latency_ms: Number(r.latency_ms),
      ttft_ms: r.ttft_ms === null ? null : Number(r.ttft_ms),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cache_read_tokens: Number(r.cache_read_tokens),
      cache_write_tokens: Number(r.cache_write_5m_tokens) + Number(r.cache_write_1h_tokens),
      cost_usd: formatUsd(BigInt(r.cost_pico), 6),
    };
  });
}

async function keyNames(database: AnyDb, ids: string[]): Promise<Map<string, string>> {
  const known = [...new Set(ids.filter((id) => id !== ''))];
  if (known.length === 0) return new Map();
  const rows = (await database
    .selectFrom('virtual_keys')
    .select(['id', 'name'])
    .where('id', 'in', known)
    .execute()) as Array<{ id: string; name: string }>;
  return new Map(rows.map((r) => [r.id, r.name]));
}
