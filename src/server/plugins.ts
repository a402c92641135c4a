import { type BatchesConfig, parseBatchesConfig } from '../batches/config.js';
import { batchEndpoints } from '../batches/endpoints.js';
import { costOf } from '../catalog/cost.js';
import { setUnpricedWarning, unpricedRequests } from '../catalog/unpriced.js';
import { createMoneyPlugin } from '../ledger/plugin.js';
import { createLimitsPlugin, type LimitFlags } from '../limits/gateway-plugin.js';
import type { RouteOutcome, Router } from '../pipeline/route.js';
import type { Call } from '../pipeline/types.js';
import { routingFor } from '../routing/from-config.js';
import { formatRouteHeader, resolveRoute } from '../routing/index.js';
import { isRoutingAlias } from '../routing/tiers.js';
import type { GatewayCore, GatewayPlugins } from './gateway.js';

const EXPLICIT: RouteOutcome = { kind: 'explicit' };

/** The route stage's decision-maker: rules, then the classifier, capped by the key's policy. */
export function createRouter(core: GatewayCore): Router {
  const routing = routingFor(core.loaded.config);
  return (call) => {
    // A named model is forwarded as named; only aliases need the rules and the classifier.
    if (!isRoutingAlias(call.body.model)) return EXPLICIT;
    const principal = call.principal!;
    const decision = resolveRoute(
      {
        body: call.body,
        headers: call.headers as Record<string, string | undefined>,
        keyName: principal.name,
        environment: principal.environment,
        keyPolicy: principal.routing,
      },
      routing,
    );
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

/** The pipeline's pluggable stages (routing, budgets, limits, pricing, ledger), built from configuration. */
export async function gatewayPlugins(
  core: GatewayCore,
  limitFlags: LimitFlags = {},
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
    // Estimated once: the rate limiter reads the same figure later.
    estimateInputTokens: (call) =>
      call.model ? limits.limiter.estimateInputTokens(call.body, call.model.tokenizer) : 0,
  });
  const limiting = config.limits?.enabled !== false;
  return {
    router: createRouter(core),
    price: createPricer(core),
    // Budgets first: a refused request must not take a rate-limit slot.
    reservers: limiting ? [money.reserve, limits.reserve] : [money.reserve],
    record: money.record,
    observe: limiting ? limits.observe : undefined,
    adminRoutes: [...money.adminRoutes, ...limits.adminRoutes],
    batches: (parts) =>
      batchEndpoints(parts, {
        enforcer: money.enforcer,
        estimateInputTokens: (call) =>
          call.model ? limits.limiter.estimateInputTokens(call.body, call.model.tokenizer) : 0,
        ...batchSettings(parseBatchesConfig(config.batches)),
      }),
    async close() {
      await limits.close();
      await money.close();
    },
  };
}

const batchSettings = ({ defer, ...collector }: BatchesConfig) => ({ collector, defer });
