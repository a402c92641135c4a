import type { Catalog } from '../catalog/catalog.js';
import type { ModelInfo } from '../catalog/schema.js';
import type { Speed } from './headers.js';

/**
 * Which of its pool's bucket sets a request draws from: fast mode's own limits when it asks for
 * `speed: "fast"` on a model where fast mode runs. A model that accepts the field but answers at
 * standard speed (`ignored`), or has no fast mode, counts as standard.
 */
export function requestSpeed(catalog: Catalog, model: ModelInfo, requested: unknown, at?: Date): Speed {
  if (requested !== 'fast' || model.fastMode?.status === 'ignored') return 'standard';
  // The date only matters for the rare fast request (a deprecated fast mode ends on a day).
  return catalog.fastModeAt(model, at ?? new Date()) ? 'fast' : 'standard';
}
