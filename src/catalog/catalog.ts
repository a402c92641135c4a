import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import {
  type CatalogOverrides,
  type ModelInfo,
  modelsFileSchema,
  type PriceEntry,
  pricesFileSchema,
  type RateLimits,
  type TierInfo,
  tiersFileSchema,
} from './schema.js';

export class CatalogError extends Error {}

const catalogDir = fileURLToPath(new URL('../../catalog/', import.meta.url));

function readDataFile<T extends z.ZodType>(file: string, schema: T): z.infer<T> {
  const path = `${catalogDir}${file}`;
  const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CatalogError(`catalog/${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/** Models, prices and tier limits in force: the shipped data files plus the user's overrides. */
export class Catalog {
  readonly models: ModelInfo[];
  readonly prices: PriceEntry[];
  readonly tiers: TierInfo[];
  readonly defaultTier: string;
  readonly batchDiscount: string;
  readonly inferenceGeo: { us: string; appliesFromModels: string[] };
  readonly versions: { models: string; prices: string; tiers: string };
  private readonly byName = new Map<string, ModelInfo>();

  constructor(overrides: CatalogOverrides = {}) {
    const modelsFile = readDataFile('models.json', modelsFileSchema);
    const pricesFile = readDataFile('prices.json', pricesFileSchema);
    const tiersFile = readDataFile('tiers.json', tiersFileSchema);
    this.models = mergeBy(modelsFile.models, overrides.models ?? [], (m) => m.id);
    this.prices = mergeBy(pricesFile.prices, overrides.prices ?? [], (p) => `${p.model}@${p.from}`);
    this.tiers = mergeBy(tiersFile.tiers, overrides.tiers ?? [], (t) => t.name);
    this.defaultTier = tiersFile.defaultTier;
    this.batchDiscount = pricesFile.batchDiscount;
    this.inferenceGeo = pricesFile.inferenceGeoMultiplier;
    this.versions = { models: modelsFile.version, prices: pricesFile.version, tiers: tiersFile.version };
    for (const model of this.models) {
      for (const name of [model.id, ...model.aliases]) {
        const existing = this.byName.get(name);
        if (existing && existing.id !== model.id) {
          throw new CatalogError(
            `catalog: model name "${name}" is used by both ${existing.id} and ${model.id}`,
          );
        }
        this.byName.set(name, model);
      }
    }
    for (const price of this.prices) {
      if (!this.byName.has(price.model))
        throw new CatalogError(`catalog: price for unknown model "${price.model}"`);
    }
    if (!this.tier(this.defaultTier))
      throw new CatalogError(`catalog: default tier "${this.defaultTier}" is not defined`);
  }

  /** A model by id, alias or dated id. */
  model(name: string): ModelInfo | undefined {
    return this.byName.get(name);
  }

  /** The price entry in force for a model at a moment (prices carry the date they start). */
  priceAt(modelName: string, at: Date): PriceEntry | undefined {
    const model = this.model(modelName);
    if (!model) return undefined;
    const day = at.toISOString().slice(0, 10);
    let best: PriceEntry | undefined;
    for (const price of this.prices) {
      if (price.model !== model.id && !model.aliases.includes(price.model)) continue;
      if (price.from <= day && (!best || price.from > best.from)) best = price;
    }
    return best;
  }

  tier(name: string): TierInfo | undefined {
    return this.tiers.find((t) => t.name === name || t.aliases.includes(name));
  }

  /** Limits of a tier for a model class; a class the tier does not list gets its smallest limits. */
  tierLimits(tierName: string, modelClass: string): RateLimits {
    const tier = this.tier(tierName);
    if (!tier) throw new CatalogError(`unknown tier "${tierName}"; known: ${this.tierNames().join(', ')}`);
    const exact = tier.limits[modelClass];
    if (exact) return exact;
    const all = Object.values(tier.limits);
    return {
      rpm: Math.min(...all.map((l) => l.rpm)),
      itpm: Math.min(...all.map((l) => l.itpm)),
      otpm: Math.min(...all.map((l) => l.otpm)),
    };
  }

  tierNames(): string[] {
    return this.tiers.map((t) => t.name);
  }

  modelClasses(): string[] {
    return [...new Set(this.models.map((m) => m.class))];
  }
}

function mergeBy<T>(base: T[], overrides: T[], key: (item: T) => string): T[] {
  const merged = new Map(base.map((item) => [key(item), item]));
  for (const item of overrides) merged.set(key(item), item);
  return [...merged.values()];
}

let shared: Catalog | undefined;
/** The catalog with no overrides, loaded once. */
export function defaultCatalog(): Catalog {
  shared ??= new Catalog();
  return shared;
}
