import type { Catalog } from '../catalog/catalog.js';
import { ApiError } from './errors.js';
import type { Stage } from './stage.js';
import type { Call } from './types.js';

/**
 * Policy that needs no shared state: the request's shape as far as Sluice relies on it, the
 * key's allowed models, and `max_tokens` within the key's cap (filled in when missing).
 */
export function guardStage(catalog: Catalog, defaultMaxTokens: number): Stage {
  return {
    name: 'guard',
    run(call) {
      const principal = call.principal!;
      const { body } = call;
      if (
        principal.models &&
        principal.models.length > 0 &&
        !modelAllowed(catalog, principal.models, body.model)
      ) {
        throw new ApiError(
          403,
          `key "${principal.name}" may not use model ${body.model}; allowed: ${principal.models.join(', ')}`,
        );
      }
      checkModelCallable(catalog, call);
      const cap = principal.maxTokens;
      if (body.max_tokens === undefined) {
        const modelLimit = call.model?.maxOutputTokens ?? Number.POSITIVE_INFINITY;
        body.max_tokens = Math.min(cap ?? defaultMaxTokens, modelLimit);
        call.bodyChanged = true;
      } else if (cap !== undefined && body.max_tokens > cap) {
        throw new ApiError(400, `max_tokens: ${body.max_tokens} is above this key's cap of ${cap}`);
      }
    },
  };
}

/**
 * A retired model is answered here as the API would (404), naming its replacement; a model
 * without a price is refused when the catalog's `unpriced` policy says so.
 */
function checkModelCallable(catalog: Catalog, call: Call): void {
  const at = new Date(call.startedAtMs);
  const model = call.model;
  if (model && catalog.statusAt(model, at) === 'retired') {
    throw new ApiError(
      404,
      `model: ${call.body.model} was retired${model.retiresAt ? ` on ${model.retiresAt}` : ''}` +
        (model.replacement ? `; use ${model.replacement}` : ''),
      undefined,
      'not_found_error',
    );
  }
  if (catalog.unpricedPolicy === 'refuse' && (!model || !catalog.priceAt(model.id, at))) {
    throw new ApiError(
      403,
      `model ${call.body.model} has no price in Sluice's catalog ${catalog.version}, and models without a price are refused (catalog.unpriced: refuse)`,
      undefined,
      'permission_error',
    );
  }
}

function modelAllowed(catalog: Catalog, allowed: string[], requested: string): boolean {
  const id = catalog.model(requested)?.id ?? requested;
  return allowed.some((name) => name === requested || (catalog.model(name)?.id ?? name) === id);
}

/** The checks of the body that Sluice itself depends on; everything else is the upstream's to judge. */
export function checkMessagesBody(body: unknown): asserts body is Call['body'] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '')
    throw new ApiError(400, 'model: Field required (a string)');
  if (!Array.isArray(b.messages)) throw new ApiError(400, 'messages: Field required (an array)');
  // 0 asks for a cache pre-warm: no output, the prompt written to the cache.
  if (b.max_tokens !== undefined && (!Number.isInteger(b.max_tokens) || (b.max_tokens as number) < 0)) {
    throw new ApiError(400, 'max_tokens: must be a whole number, 0 or more');
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean')
    throw new ApiError(400, 'stream: must be a boolean');
}
