import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type CatalogDocument,
  type CatalogOverrides,
  catalogDocumentSchema,
  type ModelInfo,
  type ModelStatus,
  type PoolInfo,
  type PriceEntry,
  type RateLimits,
  type Rates,
  type TierInfo,
  type UnpricedPolicy,
} from './schema.js';

export class CatalogError extends Error {}

/** The catalog shipped with this release. */
export const shippedCatalogPath = fileURLToPath(new URL('../../catalog/catalog.json', import.meta.url));

/** Parses and validates a catalog document; the message names the first field that is wrong. */
export function parseCatalogDocument(text: string, origin: string): CatalogDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CatalogError(`${origin}: not JSON (${(error as Error).message})`);
  }
  const parsed = catalogDocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CatalogError(`${origin}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function readCatalogDocument(path: string): CatalogDocument {
  return parseCatalogDocument(readFileSync(path, 'utf8'), path);
}

/** Whether version `a` is newer than `b` (YYYY-MM-DD with an optional `.N`). */
export function isNewerVersion(a: string, b: string): boolean {
  const [dayA, nA = '0'] = a.split('.');
  const [dayB, nB = '0'] = b.split('.');
  return dayA! > dayB! || (dayA === dayB && Number(nA) > Number(nB));
}

let shippedCache: CatalogDocument | undefined;
/** The shipped document, read once: it only changes with a release. */
function shippedDocument(): CatalogDocument {
  shippedCache ??= readCatalogDocument(shippedCatalogPath);
  return shippedCache;
}

/**
 * The document in force: an installed catalog (`sluice catalog update`) when it is at least as
 * new as the shipped one, else the shipped one. An unreadable installed file is reported, not used.
 */
export function currentCatalogDocument(
  installedPath: string | undefined,
  onProblem?: (message: string) => void,
): CatalogDocument {
  const shipped = shippedDocument();
  if (!installedPath || !existsSync(installedPath)) return shipped;
  try {
    const installed = readCatalogDocument(installedPath);
    return isNewerVersion(shipped.version, installed.version) ? shipped : installed;
  } catch (error) {
    onProblem?.(`${(error as Error).message}; using the shipped catalog ${shipped.version}`);
    return shipped;
  }
}

/** The catalog a command or a gateway works with: the document in force plus configured overrides. */
export function catalogInForce(
  settings: CatalogOverrides & { file?: string },
  onProblem?: (message: string) => void,
): Catalog {
  return new Catalog(settings, currentCatalogDocument(settings.file, onProblem));
}

const DAY_MS = 86_400_000;
export const dayOf = (at: Date): string => at.toISOString().slice(0, 10);

/** The catalog's contents, built and checked in full before any of it is put in force. */
interface CatalogState {
  document: CatalogDocument;
  models: ModelInfo[];
  prices: PriceEntry[];
  pools: PoolInfo[];
  tiers: TierInfo[];
  byName: Map<string, ModelInfo>;
  families: string[];
}

function buildState(doc: CatalogDocument, overrides: CatalogOverrides): CatalogState {
  const models = mergeBy(doc.models, overrides.models ?? [], (m) => m.id);
  const prices = mergeBy(doc.prices, overrides.prices ?? [], (p) => `${p.model}@${p.from}`);
  const tiers = mergeBy(doc.tiers, overrides.tiers ?? [], (t) => t.name);
  const byName = new Map<string, ModelInfo>();
  for (const model of models) {
    for (const name of [model.id, ...model.aliases]) {
      const existing = byName.get(name);
      if (existing && existing.id !== model.id) {
        throw new CatalogError(
          `catalog: model name "${name}" is used by both ${existing.id} and ${model.id}`,
        );
      }
      byName.set(name, model);
    }
  }
  for (const price of prices) {
    if (!byName.has(price.model)) throw new CatalogError(`catalog: price for unknown model "${price.model}"`);
  }
  if (!tiers.some((t) => t.name === doc.defaultTier || t.aliases.includes(doc.defaultTier)))
    throw new CatalogError(`catalog: default tier "${doc.defaultTier}" is not defined`);
  // Longest first, so "mythos" is not taken for a shorter family named inside it.
  const families = [...new Set(models.map((m) => m.family))].sort((a, b) => b.length - a.length);
  return { document: doc, models, prices, pools: doc.pools, tiers, byName, families };
}

/**
 * Models, prices, pools and tier limits in force: a catalog document plus the user's overrides.
 * One instance is shared by every stage of a gateway; `replace` puts a newer document in force
 * in place, so holders see it without being rebuilt.
 */
export class Catalog {
  readonly unpricedPolicy: UnpricedPolicy;
  /** Bumped by every `replace`: caches derived from the catalog compare it to know they are stale. */
  generation = 0;
  private state: CatalogState;
  private readonly overrides: CatalogOverrides;

  constructor(overrides: CatalogOverrides = {}, document?: CatalogDocument) {
    this.overrides = overrides;
    this.unpricedPolicy = overrides.unpriced ?? 'worst-case';
    this.state = buildState(document ?? shippedDocument(), overrides);
  }

  /**
   * Puts another document in force, with the same overrides. A document that does not make a
   * catalog (a price for an unknown model, …) throws and leaves the one in force untouched.
   */
  replace(document: CatalogDocument): void {
    this.state = buildState(document, this.overrides);
    this.generation++;
  }

  get document(): CatalogDocument {
    return this.state.document;
  }
  get version(): string {
    return this.state.document.version;
  }
  get defaultTier(): string {
    return this.state.document.defaultTier;
  }
  get models(): ModelInfo[] {
    return this.state.models;
  }
  get prices(): PriceEntry[] {
    return this.state.prices;
  }
  get pools(): PoolInfo[] {
    return this.state.pools;
  }
  get tiers(): TierInfo[] {
    return this.state.tiers;
  }

  /** A model by id, alias or dated id. */
  model(name: string): ModelInfo | undefined {
    return this.state.byName.get(name);
  }

  /** Status on a day: a past `retiresAt` retires the model whatever the published status said. */
  statusAt(model: ModelInfo, at: Date): ModelStatus {
    if (model.retiresAt && model.retiresAt <= dayOf(at)) return 'retired';
    if (model.status === 'retired') return 'retired';
    if (model.retiresAt) return 'deprecated';
    return model.status;
  }

  /** The price entry in force for a model at a moment (prices carry the date they start). */
  priceAt(modelName: string, at: Date): PriceEntry | undefined {
    const model = this.model(modelName);
    if (!model) return undefined;
    const day = dayOf(at);
    let best: PriceEntry | undefined;
    for (const price of this.prices) {
      if (price.model !== model.id && !model.aliases.includes(price.model)) continue;
      if (price.from <= day && (!best || price.from > best.from)) best = price;
    }
    return best;
  }

  /** The family of a model, known or not: unknown names are matched by the family they contain. */
  familyOf(name: string): string | undefined {
    const known = this.model(name);
    if (known) return known.family;
    const lower = name.toLowerCase();
    return this.state.families.find((family) => lower.includes(family));
  }

  /**
   * The dearest rates, kind by kind, of the prices in force for a family's models that can still
   * be called (or the whole catalog's when the family is unknown or has none): what an unpriced
   * request is counted at. Fast requests take the dearest fast rates, else twice the standard ones.
   */
  worstRates(family: string | undefined, at: Date, fast: boolean): Rates {
    const inForce = (models: ModelInfo[]) =>
      models
        .filter((m) => this.statusAt(m, at) !== 'retired')
        .map((m) => this.priceAt(m.id, at))
        .filter((p): p is PriceEntry => p !== undefined);
    let prices = family ? inForce(this.models.filter((m) => m.family === family)) : [];
    if (prices.length === 0) prices = inForce(this.models);
    const candidates: Rates[] = [];
    for (const price of prices) {
      if (fast && price.fast) candidates.push(price.fast);
      for (const tier of price.promptTiers ?? []) candidates.push(fast ? doubled(tier) : tier);
      candidates.push(fast ? doubled(price) : price);
    }
    return maxRates(candidates);
  }

  pool(id: string): PoolInfo | undefined {
    return this.pools.find((p) => p.id === id);
  }

  tier(name: string): TierInfo | undefined {
    return this.tiers.find((t) => t.name === name || t.aliases.includes(name));
  }

  /**
   * Limits of a tier for a pool (fast mode's own limits with `fast`); a pool the tier does not
   * list gets the tier's smallest figures.
   */
  tierLimits(tierName: string, pool: string, fast = false): RateLimits {
    const tier = this.tier(tierName);
    if (!tier) throw new CatalogError(`unknown tier "${tierName}"; known: ${this.tierNames().join(', ')}`);
    const table = fast && Object.keys(tier.fastLimits).length > 0 ? tier.fastLimits : tier.limits;
    const exact = table[pool];
    if (exact) return exact;
    const all = Object.values(table);
    return {
      rpm: Math.min(...all.map((l) => l.rpm)),
      itpm: Math.min(...all.map((l) => l.itpm)),
      otpm: Math.min(...all.map((l) => l.otpm)),
    };
  }

  tierNames(): string[] {
    return this.tiers.map((t) => t.name);
  }

  poolIds(): string[] {
    return this.pools.map((p) => p.id);
  }

  get batchMultiplier(): string {
    return this.document.multipliers.batch.value;
  }

  /** The multiplier of an `inference_geo` value on a model that bills it ("1" otherwise). */
  geoMultiplier(model: ModelInfo, geo: string | null | undefined): string {
    if (!geo || !model.inferenceGeo) return '1';
    return this.document.multipliers.inferenceGeo.values[geo] ?? '1';
  }

  /** The upload limit of an endpoint (`files`, `skills`), when the catalog knows one. */
  uploadLimitBytes(endpoint: string): number | undefined {
    return this.document.uploads?.[endpoint]?.maxBytes;
  }

  get serverTools(): CatalogDocument['serverTools'] {
    return this.document.serverTools;
  }

  /** The models `auto` routes to unless configuration says otherwise. */
  get routingDefaults(): CatalogDocument['routing'] {
    return this.document.routing;
  }

  /** Whether fast mode can be asked of a model on a day (ignored counts: the API accepts it). */
  fastModeAt(model: ModelInfo, at: Date): boolean {
    const fast = model.fastMode;
    return fast !== undefined && (!fast.until || dayOf(at) < fast.until);
  }

  /** Days until a model retires (negative once retired), or undefined without a date. */
  daysToRetirement(model: ModelInfo, at: Date): number | undefined {
    if (!model.retiresAt) return undefined;
    return Math.ceil((Date.parse(`${model.retiresAt}T00:00:00Z`) - at.getTime()) / DAY_MS);
  }
}

function doubled(rates: Rates): Rates {
  const twice = (text: string) => String(Number(text) * 2);
  return {
    input: twice(rates.input),
    cacheWrite5m: twice(rates.cacheWrite5m),
    cacheWrite1h: twice(rates.cacheWrite1h),
    cacheRead: twice(rates.cacheRead),
    output: twice(rates.output),
  };
}

function maxRates(all: Rates[]): Rates {
  const pick = (kind: keyof Rates) =>
    all.map((r) => r[kind]).reduce((a, b) => (Number(b) > Number(a) ? b : a), '0');
  return {
    input: pick('input'),
    cacheWrite5m: pick('cacheWrite5m'),
    cacheWrite1h: pick('cacheWrite1h'),
    cacheRead: pick('cacheRead'),
    output: pick('output'),
  };
}

function mergeBy<T>(base: T[], overrides: T[], key: (item: T) => string): T[] {
  const merged = new Map(base.map((item) => [key(item), item]));
  for (const item of overrides) merged.set(key(item), item);
  return [...merged.values()];
}

let shared: Catalog | undefined;
/** The shipped catalog with no overrides, loaded once. */
export function defaultCatalog(): Catalog {
  shared ??= new Catalog();
  return shared;
}
