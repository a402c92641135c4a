import type { ModelInfo, ModelStatus } from '../catalog/schema.js';
import { ApiError } from './errors.js';
import { type Exchange, sendJson } from './http.js';
import type { SimulatorState } from './state.js';

/** A model of the catalog that is not retired on the simulator clock's day; 404 otherwise. */
export function resolveModel(exchange: Exchange, name: string): ModelInfo {
  return resolveModelIn(exchange.state, name);
}

export function resolveModelIn(state: SimulatorState, name: string): ModelInfo {
  const { catalog, clock } = state;
  const model = catalog.model(name);
  if (!model || catalog.statusAt(model, new Date(clock.now())) === 'retired') {
    throw new ApiError(404, `model: ${name}`);
  }
  return model;
}

const defaultLimit = 20;
const maxLimit = 1000;

const supported = (value: boolean) => ({ supported: value });

/**
 * What the Models API says a model can do, derived from its catalog entry: thinking types from
 * its thinking modes and rules, effort from adaptive thinking or a default effort. Features the
 * catalog does not describe (batch, citations, images, PDFs, structured outputs, tool-use
 * context clearing) are supported by every model the catalog lists.
 */
export function capabilitiesOf(model: ModelInfo) {
  const modes = model.thinking.modes;
  const adaptive = modes.includes('adaptive');
  const manual = modes.includes('manual') && !model.rules.includes('no-manual-thinking');
  const alwaysOn = model.thinking.alwaysOn === true || model.rules.includes('thinking-always-on');
  const effort = adaptive || model.thinking.defaultEffort !== undefined;
  return {
    batch: supported(true),
    citations: supported(true),
    code_execution: supported(true),
    context_management: {
      supported: true,
      clear_thinking_20251015: supported(modes.length > 0),
      clear_tool_uses_20250919: supported(true),
      // Compaction came with the adaptive-thinking generation.
      compact_20260112: supported(adaptive),
    },
    effort: {
      supported: effort,
      low: supported(effort),
      medium: supported(effort),
      high: supported(effort),
      // The two top levels came with adaptive thinking.
      xhigh: supported(effort && adaptive),
      max: supported(effort && adaptive),
    },
    image_input: supported(true),
    pdf_input: supported(true),
    structured_outputs: supported(true),
    thinking: {
      supported: modes.length > 0,
      types: {
        adaptive: supported(adaptive),
        enabled: supported(manual),
        disabled: supported(!alwaysOn),
      },
    },
  };
}

/** `lifecycle` as the Models API words it: legacy models are active, not yet headed for retirement. */
function lifecycleOf(status: ModelStatus): 'active' | 'deprecated' | 'retired' {
  return status === 'legacy' ? 'active' : status;
}

function modelObject(model: ModelInfo, status: ModelStatus) {
  return {
    type: 'model',
    id: model.id,
    display_name: model.displayName,
    created_at: `${model.releasedAt}T00:00:00Z`,
    max_input_tokens: model.contextWindow,
    max_tokens: model.maxOutputTokens,
    capabilities: capabilitiesOf(model),
    lifecycle: lifecycleOf(status),
    deprecated_at: model.deprecatedAt ? `${model.deprecatedAt}T00:00:00Z` : null,
    retires_at: model.retiresAt ?? null,
  };
}

/** Newest first, as the service lists them. */
function newestFirst(models: ModelInfo[]): ModelInfo[] {
  return [...models].sort((a, b) => b.releasedAt.localeCompare(a.releasedAt) || a.id.localeCompare(b.id));
}

/** `GET /v1/models?limit&after_id&before_id` */
export function listModels(exchange: Exchange): void {
  const query = exchange.url.searchParams;
  const limitText = query.get('limit');
  const limit = limitText === null ? defaultLimit : Number(limitText);
  if (!Number.isInteger(limit)) throw new ApiError(400, 'limit: Input should be a valid integer');
  if (limit < 1) throw new ApiError(400, 'limit: Input should be greater than or equal to 1');
  if (limit > maxLimit) throw new ApiError(400, `limit: Input should be less than or equal to ${maxLimit}`);
  const afterId = query.get('after_id');
  const beforeId = query.get('before_id');
  if (afterId && beforeId) throw new ApiError(400, 'after_id and before_id may not both be given');

  const { catalog, clock } = exchange.state;
  const today = new Date(clock.now());
  // Retired models are no longer listed.
  const all = newestFirst(catalog.models.filter((m) => catalog.statusAt(m, today) !== 'retired'));
  const position = (id: string, field: string): number => {
    const index = all.findIndex((m) => m.id === id);
    if (index < 0) throw new ApiError(400, `${field}: no model with id ${id}`);
    return index;
  };
  let page: ModelInfo[];
  let hasMore: boolean;
  if (beforeId) {
    const end = position(beforeId, 'before_id');
    const start = Math.max(0, end - limit);
    page = all.slice(start, end);
    hasMore = start > 0;
  } else {
    const start = afterId ? position(afterId, 'after_id') + 1 : 0;
    page = all.slice(start, start + limit);
    hasMore = start + limit < all.length;
  }
  sendJson(exchange, 200, {
    data: page.map((model) => modelObject(model, catalog.statusAt(model, today))),
    has_more: hasMore,
    first_id: page[0]?.id ?? null,
    last_id: page[page.length - 1]?.id ?? null,
  });
}

/** `GET /v1/models/{id}`: ids and aliases; a retired model is not found. */
export function getModel(exchange: Exchange, id: string): void {
  const model = resolveModel(exchange, id);
  sendJson(
    exchange,
    200,
    modelObject(model, exchange.state.catalog.statusAt(model, new Date(exchange.state.clock.now()))),
  );
}
