/** Routing: `model: "auto"` and tier aliases resolved to the cheapest adequate model. */
export {
  type Classification,
  type ClassifyOptions,
  classify,
  classifyView,
  type Decider,
} from './classify.js';
export {
  type CompiledRouting,
  compileRouting,
  type KeyPolicy,
  type RoutingConfig,
  type RoutingConfigInput,
  routingConfigSchema,
} from './config.js';
export { formatRouteHeader, ROUTE_HEADER } from './header.js';
export type { Judge, JudgeVerdict } from './judge.js';
export { loadRoutingModel, type RoutingModel, RoutingModelError } from './model.js';
export type { MessagesRequestBody } from './request.js';
export {
  MIN_TIER_HEADER,
  type RouteDecision,
  type RouteInput,
  resolveRoute,
  routeRequest,
} from './resolve.js';
export {
  AUTO_MODEL,
  DEFAULT_TIER_MODELS,
  isRoutingAlias,
  TIER_ALIASES,
  TIER_MODEL_ENV,
  TIERS,
  type Tier,
  tierModels,
} from './tiers.js';
