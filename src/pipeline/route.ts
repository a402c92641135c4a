import type { Catalog } from '../catalog/catalog.js';
import { ApiError } from './errors.js';
import type { Stage } from './stage.js';
import type { Call, RouteDecision } from './types.js';

/** What the routing module decides for a request whose model is `auto` or a tier alias. */
export type RouteOutcome =
  | { kind: 'explicit' }
  | { kind: 'routed'; model: string; decision: RouteDecision }
  | { kind: 'refused'; status: 400 | 403; message: string };

/** Synchronous unless it has to ask the routing judge. */
export type Router = (call: Call) => RouteOutcome | Promise<RouteOutcome>;

/**
 * Resolves the model: an explicit model passes through unchanged (aliases are looked up in the
 * catalog for class and price); `auto` or a tier alias is decided by the router and written into
 * the forwarded body, as the real model name.
 */
export function routeStage(catalog: Catalog, router: Router): Stage {
  const apply = (call: Call, outcome: RouteOutcome): void => {
    if (outcome.kind === 'refused') throw new ApiError(outcome.status, outcome.message);
    if (outcome.kind === 'routed') {
      call.route = outcome.decision;
      call.body.model = outcome.model;
      call.bodyChanged = true;
    }
    call.model = catalog.model(call.body.model);
  };
  return {
    name: 'route',
    run(call) {
      call.requestedModel = call.body.model;
      const outcome = router(call);
      if (outcome instanceof Promise) return outcome.then((settled) => apply(call, settled));
      apply(call, outcome);
    },
  };
}
