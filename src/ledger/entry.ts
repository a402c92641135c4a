import type { Insertable } from 'kysely';
import { type Cost, type TokenCounts, tokenCounts } from '../catalog/cost.js';
import { picoToSafeNumber } from '../catalog/money.js';
import type { Call, Usage } from '../pipeline/types.js';
import { type Attribution, attributionOf } from './attribution.js';
import type { LedgerTable } from './tables.js';

/** What the accounting stage knows about a finished request. */
export interface LedgerEntry {
  /** When the request arrived, epoch ms: the price in force then applies and budgets count it then. */
  at: number;
  requestId: string;
  upstreamRequestId?: string | null;
  keyId?: string | null;
  environment: string;
  requestedModel: string;
  model: string;
  routeTier?: string | null;
  routeReason?: string | null;
  /** The status Sluice answered with. */
  status: number;
  upstreamStatus?: number | null;
  retries?: number;
  latencyMs: number;
  ttftMs?: number | null;
  tokens: TokenCounts;
  cost: Cost;
  batch?: boolean;
  geo?: string | null;
  speed?: string | null;
  /** The client's session, agent and name/version/entrypoint (see attribution.ts). */
  attribution?: Attribution;
}

const emptyUsage: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

/**
 * A ledger entry from a finished Call. Its cost is `call.cost` (set by the pricer from the same
 * usage) unless one is given; a call without usage (refused, failed) costs nothing.
 */
export function entryFromCall(
  call: Call,
  overrides: { cost?: Cost; status?: number; batch?: boolean } = {},
): LedgerEntry {
  const finishedAt = call.finishedAt ?? performance.now();
  const reason = call.route ? [call.route.rule, ...call.route.reasons].filter(Boolean).join('; ') : null;
  const model = call.model?.id ?? call.body.model;
  const cost: Cost = overrides.cost ?? call.cost ?? (call.usage ? unpriced(model) : free(model));
  // Where and how fast it ran, as the response said (the request's ask when it said nothing).
  const geo = call.usage?.inference_geo ?? call.body['inference_geo'];
  return {
    at: call.startedAtMs,
    requestId: call.id,
    upstreamRequestId: call.upstream?.requestId ?? null,
    keyId: call.principal?.keyId ?? null,
    environment: call.principal?.environment ?? '',
    requestedModel: call.requestedModel ?? call.body.model,
    model,
    routeTier: call.route?.tier ?? null,
    routeReason: reason ? reason.slice(0, 200) : null,
    status: overrides.status ?? call.status ?? call.upstream?.status ?? 0,
    // 0 means no attempt got an answer (connection errors, timeouts): no upstream status.
    upstreamStatus: call.upstream?.status || null,
    retries: Math.max(0, (call.upstream?.attempts ?? 1) - 1),
    latencyMs: Math.max(0, Math.round(finishedAt - call.receivedAt)),
    ttftMs:
      call.firstByteAt === undefined ? null : Math.max(0, Math.round(call.firstByteAt - call.receivedAt)),
    tokens: tokenCounts(call.usage ?? emptyUsage),
    cost,
    // Message Batches results are billed at the batch rate; live calls never are.
    batch: overrides.batch ?? call.usage?.service_tier === 'batch',
    geo: typeof geo === 'string' ? geo : null,
    speed: call.usage?.speed ?? null,
    attribution: attributionOf(call),
  };
}

const zeroBreakdown = {
  input: 0n,
  cacheWrite5m: 0n,
  cacheWrite1h: 0n,
  cacheRead: 0n,
  output: 0n,
  webSearch: 0n,
};
const noCost = {
  pico: 0n,
  breakdown: zeroBreakdown,
  longContext: false,
  batch: false,
  geo: false,
  fast: false,
};

/** Usage that nobody priced (no pricer configured) is recorded as unpriced, never as priced $0. */
const unpriced = (model: string): Cost => ({ priced: false, model, reason: 'no price', ...noCost });

/** A call that reported no usage (refused, failed before the upstream answered) was not billed. */
const free = (model: string): Cost => ({ priced: true, model, priceFrom: '', ...noCost });

export function toLedgerRow(entry: LedgerEntry): Insertable<LedgerTable> {
  return {
    request_id: entry.requestId,
    at: Math.round(entry.at),
    upstream_request_id: entry.upstreamRequestId ?? null,
    key_id: entry.keyId ?? null,
    environment: entry.environment,
    requested_model: entry.requestedModel,
    model: entry.model,
    route_tier: entry.routeTier ?? null,
    route_reason: entry.routeReason ?? null,
    status: entry.status,
    upstream_status: entry.upstreamStatus ?? null,
    retries: entry.retries ?? 0,
    latency_ms: Math.round(entry.latencyMs),
    ttft_ms: entry.ttftMs === null || entry.ttftMs === undefined ? null : Math.round(entry.ttftMs),
    input_tokens: entry.tokens.input,
    output_tokens: entry.tokens.output,
    cache_write_5m_tokens: entry.tokens.cacheWrite5m,
    cache_write_1h_tokens: entry.tokens.cacheWrite1h,
    cache_read_tokens: entry.tokens.cacheRead,
    // Unpriced rows keep what budgets counted for them (the worst case, or 0 when allowed).
    cost_pico: picoToSafeNumber(entry.cost.pico),
    priced: entry.cost.priced ? 1 : 0,
    batch: entry.batch ? 1 : 0,
    geo: entry.geo ?? null,
    speed: entry.speed ?? null,
    web_search_requests: entry.tokens.webSearches,
    web_fetch_requests: entry.tokens.webFetches,
    code_execution_requests: entry.tokens.codeExecutions,
    unpriced_reason: entry.cost.priced ? null : entry.cost.reason,
    session_id: entry.attribution?.sessionId ?? null,
    agent_id: entry.attribution?.agentId ?? null,
    client: entry.attribution?.client ?? null,
    client_version: entry.attribution?.clientVersion ?? null,
    client_entrypoint: entry.attribution?.clientEntrypoint ?? null,
  };
}
