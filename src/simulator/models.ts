import type { ModelInfo } from '../catalog/schema.js';
import { ApiError } from './errors.js';
import { type Exchange, sendJson } from './http.js';

const defaultLimit = 20;
const maxLimit = 1000;

function modelObject(model: ModelInfo) {
  return {
    type: 'model',
    id: model.id,
    display_name: model.displayName,
    created_at: `${model.releasedAt}T00:00:00Z`,
    max_input_tokens: model.contextWindow,
    max_tokens: model.maxOutputTokens,
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

  const all = newestFirst(exchange.state.catalog.models);
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
    data: page.map(modelObject),
    has_more: hasMore,
    first_id: page[0]?.id ?? null,
    last_id: page[page.length - 1]?.id ?? null,
  });
}

/** `GET /v1/models/{id}`: ids and aliases. */
export function getModel(exchange: Exchange, id: string): void {
  const model = exchange.state.catalog.model(id);
  if (!model) throw new ApiError(404, `model: ${id}`);
  sendJson(exchange, 200, modelObject(model));
}
