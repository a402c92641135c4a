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
 * The Models API as the key sees it: a model its allow-list does not grant does not exist for it
 * (404, as the API answers an unknown one), and lists leave such models out, so model discovery
 * (Claude Code's) offers only what the key may use.
 */
export function modelsVisibleStage(catalog: Catalog): Stage {
  return {
    name: 'guard',
    run(call) {
      const allowed = call.principal?.models;
      if (!allowed || allowed.length === 0) return;
      const visible = (model: string) => modelAllowed(catalog, allowed, model);
      const id = call.params?.id;
      if (id !== undefined) {
        if (!visible(id)) throw new ApiError(404, `model: ${id}`, {}, 'not_found_error');
        return;
      }
      call.rewriteAnswer = (status, bytes) => (status < 300 ? visibleModels(bytes, visible) : bytes);
    },
  };
}

/** A Models list page without the invisible models; its first and last ids follow what is kept. */
function visibleModels(bytes: Buffer, visible: (model: string) => boolean): Buffer {
  let page: { data?: Array<{ id?: unknown }>; first_id?: unknown; last_id?: unknown };
  try {
    page = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes;
  }
  if (!Array.isArray(page.data)) return bytes;
  const kept = page.data.filter((model) => typeof model?.id === 'string' && visible(model.id));
  if (kept.length === page.data.length) return bytes;
  return Buffer.from(
    JSON.stringify({ ...page, data: kept, first_id: kept[0]?.id ?? null, last_id: kept.at(-1)?.id ?? null }),
  );
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

/** Whether a key limited to `allowed` models may use `requested` (aliases and ids are the same model). */
function modelAllowed(catalog: Catalog, allowed: string[], requested: string): boolean {
  const id = catalog.model(requested)?.id ?? requested;
  return allowed.some((name) => name === requested || (catalog.model(name)?.id ?? name) === id);
}

/**
 * The checks of the body that Sluice itself depends on (the stages read `messages`, `system`,
 * `tools` and their blocks); everything else is the upstream's to judge. A body of another shape
 * is the client's mistake, answered 400 as the API would, never a failure of a stage.
 */
export function checkMessagesBody(body: unknown): asserts body is Call['body'] {
  if (!isObject(body)) throw new ApiError(400, 'request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '')
    throw new ApiError(400, 'model: Field required (a string)');
  if (!Array.isArray(b.messages)) throw new ApiError(400, 'messages: Field required (an array)');
  b.messages.forEach((message, i) => {
    if (!isObject(message)) throw new ApiError(400, `messages.${i}: Input should be a valid dictionary`);
    if (typeof message.role !== 'string')
      throw new ApiError(400, `messages.${i}.role: Field required (a string)`);
    checkContent(message.content, `messages.${i}.content`, true);
  });
  if (b.system !== undefined) checkContent(b.system, 'system', false);
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) throw new ApiError(400, 'tools: Input should be a valid list');
    b.tools.forEach((tool, i) => {
      if (!isObject(tool)) throw new ApiError(400, `tools.${i}: Input should be a valid dictionary`);
    });
  }
  for (const field of ['tool_choice', 'thinking', 'metadata'] as const) {
    if (b[field] !== undefined && !isObject(b[field]))
      throw new ApiError(400, `${field}: Input should be a valid dictionary`);
  }
  // 0 asks for a cache pre-warm: no output, the prompt written to the cache.
  if (b.max_tokens !== undefined && (!Number.isInteger(b.max_tokens) || (b.max_tokens as number) < 0)) {
    throw new ApiError(400, 'max_tokens: must be a whole number, 0 or more');
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean')
    throw new ApiError(400, 'stream: must be a boolean');
}

/** A string, or a list of content blocks (objects); a message must have one of them. */
function checkContent(content: unknown, path: string, required: boolean): void {
  if (typeof content === 'string') return;
  if (!Array.isArray(content)) {
    if (content === undefined && required) throw new ApiError(400, `${path}: Field required`);
    throw new ApiError(400, `${path}: Input should be a valid string or list of content blocks`);
  }
  content.forEach((block, i) => {
    if (!isObject(block)) throw new ApiError(400, `${path}.${i}: Input should be a valid dictionary`);
    // A tool result carries content of its own, read by the stages as well.
    if (block.type === 'tool_result' && block.content !== undefined)
      checkContent(block.content, `${path}.${i}.content`, false);
  });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
