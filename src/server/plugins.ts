import { type BatchesConfig, parseBatchesConfig } from '../batches/config.js';
import { batchEndpoints } from '../batches/endpoints.js';
import { costOf } from '../catalog/cost.js';
import { setUnpricedWarning, unpricedRequests } from '../catalog/unpriced.js';
import { upstreamKeyFor } from '../config/load.js';
import { type BudgetGate, createMoneyPlugin } from '../ledger/plugin.js';
import { inputTokenBound } from '../limits/estimate.js';
import { createLimitsPlugin, type LimitFlags } from '../limits/gateway-plugin.js';
import { RunawayGuard, runawayAlert } from '../limits/runaway.js';
import { runawayFromEnvironment } from '../limits/runaway-config.js';
import type { BucketStore } from '../limits/store.js';
import { ApiError } from '../pipeline/errors.js';
import type { RouteOutcome, Router } from '../pipeline/route.js';
import type { Call } from '../pipeline/types.js';
import { routingFor } from '../routing/from-config.js';
import {
  formatRouteHeader,
  type RouteDecision as RoutingDecision,
  resolveRoute,
  routeRequest,
} from '../routing/index.js';
import { createUpstreamJudge } from '../routing/judge.js';
import { isRoutingAlias } from '../routing/tiers.js';
import type { GatewayCore, GatewayPlugins } from './gateway.js';

const EXPLICIT: RouteOutcome = { kind: 'explicit' };

/**
 * The route stage's decision-maker: rules, then the classifier, capped by the key's policy. With
 * `routing.judge.enabled`, an uncertain classification asks the judge (priced and recorded).
 */
export function createRouter(
  core: GatewayCore,
  ledger: { price?: (call: Call) => void; record?: (call: Call) => void } = {},
): Router {
  const routing = routingFor(core.loaded.config);
  const judge = routing.judge.enabled
    ? createUpstreamJudge({
        config: routing.judge,
        model: routing.models.fast,
        url: core.loaded.config.upstream.url,
        upstreamKey: (environment) => upstreamKeyFor(core.loaded, environment),
        catalog: core.catalog,
        price: ledger.price,
        record: ledger.record,
        onError: (message) => core.logger.warn({ event: 'routing_judge_error' }, message),
      })
    : undefined;
  const outcomeOf = (decision: RoutingDecision): RouteOutcome => {
    if (decision.kind === 'explicit') return { kind: 'explicit' };
    if (decision.kind === 'refused')
      return { kind: 'refused', status: decision.status, message: decision.message };
    return {
      kind: 'routed',
      model: decision.model,
      decision: {
        tier: decision.tier,
        score: decision.score,
        reasons: decision.reasons,
        source: decision.source,
        rule: decision.rule,
        header: formatRouteHeader(decision),
      },
    };
  };
  return (call) => {
    // A named model is forwarded as named; only aliases need the rules and the classifier.
    if (!isRoutingAlias(call.body.model)) return EXPLICIT;
    const principal = call.principal!;
    const input = {
      body: call.body,
      headers: call.headers as Record<string, string | undefined>,
      keyName: principal.name,
      environment: principal.environment,
      keyPolicy: principal.routing,
    };
    const decision = resolveRoute(input, routing);
    if (judge && decision.kind === 'routed' && decision.needsJudge)
      return routeRequest(input, routing, judge, principal, decision).then(outcomeOf);
    return outcomeOf(decision);
  };
}

/**
 * Prices a call from its usage with the price in force when it arrived. Speed, geo and service
 * tier come from the usage; the request's own fields count only where the usage is silent.
 */
export function createPricer(core: GatewayCore): (call: Call) => void {
  const plain = { catalog: core.catalog };
  return (call) => {
    if (!call.usage) return;
    const geo = call.body.inference_geo;
    const speed = call.body.speed;
    const options =
      typeof geo === 'string' || typeof speed === 'string'
        ? {
            catalog: core.catalog,
            inferenceGeo: typeof geo === 'string' ? geo : null,
            speed: typeof speed === 'string' ? speed : null,
          }
        : plain;
    call.cost = costOf(call.usage, call.body.model, new Date(call.startedAtMs), options);
  };
}

/** Counters another process holds for this one (the primary of `sluice serve --workers`). */
export interface SharedCounters {
  buckets?: BucketStore;
  budgets?: BudgetGate;
}

/** The pipeline's pluggable stages (routing, budgets, limits, pricing, ledger), built from configuration. */
export async function gatewayPlugins(
  core: GatewayCore,
  limitFlags: LimitFlags = {},
  shared: SharedCounters = {},
): Promise<GatewayPlugins> {
  const { config, env } = core.loaded;
  core.metrics.registry.registerMetric(unpricedRequests);
  setUnpricedWarning((message) => core.logger.warn({ event: 'unpriced_model' }, message));
  const limits = await createLimitsPlugin({
    loaded: core.loaded,
    catalog: core.catalog,
    registry: core.metrics.registry,
    logger: core.logger,
    flags: limitFlags,
    env,
    memoryBuckets: shared.buckets,
  });
  const money = await createMoneyPlugin({
    db: core.store.db,
    registry: core.metrics.registry,
    insertRows: core.store.insertRows,
    catalog: core.catalog,
    budgets: config.budgets,
    ledger: config.ledger,
    logger: core.logger,
    changes: core.changes,
    refreshMs: config.changes.refreshMs,
    criticalModel: config.models.critical,
    tier: limitFlags.tier ?? env.SLUICE_TIER ?? config.limits?.tier,
    env,
    // For budgets.countTokens: a large request is counted by the upstream before it is refused.
    upstream: {
      url: config.upstream.url,
      upstreamKey: (environment) => upstreamKeyFor(core.loaded, environment ?? config.environment),
    },
    memoryBudgets: shared.budgets,
  });
  const limiting = config.limits?.enabled !== false;
  const runaway = new RunawayGuard({
    config: runawayFromEnvironment(config.limits?.runaway, env),
    registry: core.metrics.registry,
    onTrip: (trip) => money.alerter.notify(runawayAlert(trip), 'runaway guard tripped'),
  });
  return {
    router: createRouter(core, { price: createPricer(core), record: money.record }),
    price: createPricer(core),
    // The runaway guard first: a looping session is refused before it reserves budget or a
    // rate-limit slot. Budgets next: a refused request must not take a rate-limit slot.
    reservers: limiting ? [runaway.reserve, money.reserve, limits.reserve] : [runaway.reserve, money.reserve],
    record: money.record,
    observe: limiting ? limits.observe : undefined,
    adminRoutes: [...money.adminRoutes, ...limits.adminRoutes],
    batches: (parts) =>
      batchEndpoints(parts, {
        enforcer: money.enforcer,
        // The budgets' bound: bytes, safe for any script (docs/money-and-budgets.md).
        estimateInputTokens: (call) => inputTokenBound(call.body),
        takeQuotas: limiting
          ? async (principal, requests, tokens) => {
              const refusal = await limits.limiter.takeQuotas({
                keyId: principal.keyId,
                environment: principal.environment,
                quotas: principal.quotas,
                requests,
                tokens,
              });
              if (refusal)
                throw new ApiError(refusal.status, refusal.message, refusal.headers, refusal.errorType);
            }
          : undefined,
        ...batchSettings(parseBatchesConfig(config.batches)),
      }),
    async close() {
      runaway.close();
      await limits.close();
      await money.close();
    },
  };
}

const batchSettings = ({ defer, ...collector }: BatchesConfig) => ({ collector, defer });
