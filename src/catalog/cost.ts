import type { Usage } from '../pipeline/types.js';
import { type Catalog, defaultCatalog } from './catalog.js';
import { type Decimal, divideByPowerOfTen, multiplyDecimals, parseDecimal } from './money.js';
import type { ModelInfo, PriceEntry, Rates } from './schema.js';
import { noteUnpriced } from './unpriced.js';

export interface CostOptions {
  catalog?: Catalog;
  /** Message Batches request: the batch discount applies to every token kind. */
  batch?: boolean;
  /** The request's `inference_geo`; "us" costs more on the models the catalog lists. */
  inferenceGeo?: string | null;
  /** Count and warn when the model has no price (default true; comparisons pass false). */
  track?: boolean;
}

/** Billed token counts by kind; 5m and 1h cache writes apart, each counted once. */
export interface TokenCounts {
  input: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  output: number;
}

export type TokenKind = keyof TokenCounts;
const tokenKinds: TokenKind[] = ['input', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead', 'output'];

export interface PricedCost {
  priced: true;
  /** The catalog id of the model that was priced. */
  model: string;
  /** The date from which the price used holds. */
  priceFrom: string;
  /** Total in pico-dollars (1e-12 USD). */
  pico: bigint;
  breakdown: Record<TokenKind, bigint>;
  longContext: boolean;
  batch: boolean;
  geo: boolean;
}

export interface UnpricedCost {
  priced: false;
  model: string;
  reason: 'unknown model' | 'no price';
}

export type Cost = PricedCost | UnpricedCost;

/**
 * The counts a request is billed for. When `cache_creation` splits the writes by TTL it is the
 * truth; any remainder of `cache_creation_input_tokens` it does not explain is billed as 5m.
 */
export function tokenCounts(usage: Usage): TokenCounts {
  const created = usage.cache_creation_input_tokens ?? 0;
  const split = usage.cache_creation;
  let cacheWrite5m = created;
  let cacheWrite1h = 0;
  if (split) {
    cacheWrite1h = split.ephemeral_1h_input_tokens ?? 0;
    cacheWrite5m = split.ephemeral_5m_input_tokens ?? 0;
    const unexplained = created - cacheWrite5m - cacheWrite1h;
    if (unexplained > 0) cacheWrite5m += unexplained;
  }
  return {
    input: usage.input_tokens ?? 0,
    cacheWrite5m,
    cacheWrite1h,
    cacheRead: usage.cache_read_input_tokens ?? 0,
    output: usage.output_tokens ?? 0,
  };
}

/** Input as the long-context rule counts it: plain input, cache writes and cache reads. */
export function totalInputTokens(counts: TokenCounts): number {
  return counts.input + counts.cacheWrite5m + counts.cacheWrite1h + counts.cacheRead;
}

const decimalCache = new Map<string, Decimal>();
function decimal(text: string): Decimal {
  let parsed = decimalCache.get(text);
  if (!parsed) {
    parsed = parseDecimal(text);
    decimalCache.set(text, parsed);
  }
  return parsed;
}

interface PriceContext {
  model: ModelInfo;
  price: PriceEntry;
  multiplier: Decimal;
  batch: boolean;
  geo: boolean;
  wholeRates?: WholeRates | null;
  longWholeRates?: WholeRates | null;
}

type FoundContext = { ok: true; ctx: PriceContext } | { ok: false; cost: UnpricedCost };
type DayContexts = Map<string, { dayStart: number; found: FoundContext }>;

// Contexts by variant (plain, batch, US geo, both), then model name, for the UTC day they were
// looked up in: every response is priced, and the answer only changes with the day.
const contexts = new WeakMap<Catalog, DayContexts[]>();
const DAY_MS = 86_400_000;
// There is one catalog in a gateway: the last one asked about is found without a lookup.
let lastCatalog: Catalog | undefined;
let lastContexts: DayContexts[] | undefined;

function priceContext(modelName: string, at: Date, options: CostOptions): FoundContext {
  const catalog = options.catalog ?? defaultCatalog();
  let byVariant = catalog === lastCatalog ? lastContexts : contexts.get(catalog);
  if (!byVariant) {
    byVariant = [new Map(), new Map(), new Map(), new Map()];
    contexts.set(catalog, byVariant);
  }
  lastCatalog = catalog;
  lastContexts = byVariant;
  const byModel = byVariant[(options.batch ? 2 : 0) + (options.inferenceGeo === 'us' ? 1 : 0)]!;
  const ms = at.getTime();
  const dayStart = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
  const cached = byModel.get(modelName);
  if (cached?.dayStart === dayStart) return cached.found;
  const found = lookUpContext(catalog, modelName, at, options);
  byModel.set(modelName, { dayStart, found });
  return found;
}

function lookUpContext(catalog: Catalog, modelName: string, at: Date, options: CostOptions): FoundContext {
  const model = catalog.model(modelName);
  if (!model) return { ok: false, cost: { priced: false, model: modelName, reason: 'unknown model' } };
  const price = catalog.priceAt(model.id, at);
  if (!price) return { ok: false, cost: { priced: false, model: model.id, reason: 'no price' } };
  const batch = options.batch === true;
  const geo = options.inferenceGeo === 'us' && catalog.inferenceGeo.appliesFromModels.includes(model.id);
  const factors: Decimal[] = [];
  if (batch) factors.push(decimal(catalog.batchDiscount));
  if (geo) factors.push(decimal(catalog.inferenceGeo.us));
  return { ok: true, ctx: { model, price, multiplier: multiplyDecimals(...factors), batch, geo } };
}

type WholeRates = Record<TokenKind, number>;

/**
 * Pico-dollars per token of each kind when all are whole numbers (every price so far: six
 * decimals cover any price in USD/MTok times its multipliers); null otherwise. Costs are then
 * exact in Number arithmetic as long as they stay below 2^53 pico-dollars (about $9,007).
 */
function wholeRates(rates: Rates, multiplier: Decimal): WholeRates | null {
  const whole = {} as WholeRates;
  for (const kind of tokenKinds) {
    const { value, scale } = scaledAmount(1, rates[kind], multiplier);
    const divisor = 10n ** BigInt(scale);
    if (value % divisor !== 0n || value / divisor > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    whole[kind] = Number(value / divisor);
  }
  return whole;
}

function isLongContext(ctx: PriceContext, inputTokens: number): boolean {
  const threshold = ctx.model.longContext?.thresholdTokens;
  return ctx.price.longContext !== undefined && threshold !== undefined && inputTokens > threshold;
}

/** tokens × rate (USD/MTok) × multiplier, as pico-dollars scaled by 10^scale (exact). */
function scaledAmount(tokens: number, rate: string, multiplier: Decimal): { value: bigint; scale: number } {
  const r = decimal(rate);
  // USD per million tokens → pico-dollars per token is a factor of 1e6.
  return {
    value: BigInt(tokens) * r.units * multiplier.units * 1_000_000n,
    scale: r.scale + multiplier.scale,
  };
}

function priceCounts(counts: TokenCounts, ctx: PriceContext): PricedCost {
  const longContext = isLongContext(ctx, totalInputTokens(counts));
  const rates: Rates = longContext ? ctx.price.longContext! : ctx.price;
  // Kept on the context, which is cached per model, variant and day.
  if (longContext) ctx.longWholeRates ??= wholeRates(rates, ctx.multiplier);
  else ctx.wholeRates ??= wholeRates(rates, ctx.multiplier);
  const whole = longContext ? ctx.longWholeRates : ctx.wholeRates;
  if (whole) {
    const input = counts.input * whole.input;
    const cacheWrite5m = counts.cacheWrite5m * whole.cacheWrite5m;
    const cacheWrite1h = counts.cacheWrite1h * whole.cacheWrite1h;
    const cacheRead = counts.cacheRead * whole.cacheRead;
    const output = counts.output * whole.output;
    const total = input + cacheWrite5m + cacheWrite1h + cacheRead + output;
    // Each part is at most the total, so one check covers them all.
    if (Number.isSafeInteger(total))
      return {
        priced: true,
        model: ctx.model.id,
        priceFrom: ctx.price.from,
        pico: BigInt(total),
        breakdown: {
          input: BigInt(input),
          cacheWrite5m: BigInt(cacheWrite5m),
          cacheWrite1h: BigInt(cacheWrite1h),
          cacheRead: BigInt(cacheRead),
          output: BigInt(output),
        },
        longContext,
        batch: ctx.batch,
        geo: ctx.geo,
      };
  }
  const parts = tokenKinds.map((kind) => scaledAmount(counts[kind], rates[kind], ctx.multiplier));
  const scale = Math.max(...parts.map((p) => p.scale));
  let total = 0n;
  for (const part of parts) total += part.value * 10n ** BigInt(scale - part.scale);
  const breakdown = Object.fromEntries(
    tokenKinds.map((kind, i) => [kind, divideByPowerOfTen(parts[i]!.value, parts[i]!.scale)]),
  ) as Record<TokenKind, bigint>;
  return {
    priced: true,
    model: ctx.model.id,
    priceFrom: ctx.price.from,
    pico: divideByPowerOfTen(total, scale),
    breakdown,
    longContext,
    batch: ctx.batch,
    geo: ctx.geo,
  };
}

/**
 * What a request cost, from its usage (streamed or not, the counts are the same), with the price
 * in force at `at`. A model without a price is `{ priced: false }`, never zero.
 */
export function costOf(usage: Usage, model: string, at: Date, options: CostOptions = {}): Cost {
  const found = priceContext(model, at, options);
  if (!found.ok) {
    if (options.track !== false) noteUnpriced(found.cost.model);
    return found.cost;
  }
  return priceCounts(tokenCounts(usage), found.ctx);
}

/** The same usage priced on another model (what a routed request would have cost elsewhere). */
export function costOnModel(usage: Usage, otherModel: string, at: Date, options: CostOptions = {}): Cost {
  return costOf(usage, otherModel, at, { ...options, track: false });
}

export interface CacheSavings {
  /** What the cache reads would have cost as plain input, minus what they cost. */
  readSavingsPico: bigint;
  /** What cache writes cost above plain input (the price of the savings). */
  writePremiumPico: bigint;
}

/** Cache savings of one request; `undefined` when the model has no price. */
export function cacheSavings(
  usage: Usage,
  model: string,
  at: Date,
  options: CostOptions = {},
): CacheSavings | undefined {
  const found = priceContext(model, at, options);
  if (!found.ok) return undefined;
  return cacheSavingsOfCounts(tokenCounts(usage), found.ctx);
}

function cacheSavingsOfCounts(counts: TokenCounts, ctx: PriceContext): CacheSavings {
  const actual = priceCounts(counts, ctx);
  const rates: Rates = actual.longContext ? ctx.price.longContext! : ctx.price;
  const asInput = (tokens: number) => {
    const part = scaledAmount(tokens, rates.input, ctx.multiplier);
    return divideByPowerOfTen(part.value, part.scale);
  };
  return {
    readSavingsPico: asInput(counts.cacheRead) - actual.breakdown.cacheRead,
    writePremiumPico:
      actual.breakdown.cacheWrite5m +
      actual.breakdown.cacheWrite1h -
      asInput(counts.cacheWrite5m + counts.cacheWrite1h),
  };
}

/** Cache savings from token totals (reports use grouped ledger sums). */
export function cacheReadSavingsOfTokens(
  cacheReadTokens: number,
  model: string,
  at: Date,
  options: CostOptions = {},
): bigint | undefined {
  const found = priceContext(model, at, options);
  if (!found.ok) return undefined;
  const counts: TokenCounts = {
    input: 0,
    cacheWrite5m: 0,
    cacheWrite1h: 0,
    cacheRead: cacheReadTokens,
    output: 0,
  };
  // Grouped sums lose the per-request long-context split; the standard rates are used.
  const ctx = { ...found.ctx, price: { ...found.ctx.price, longContext: undefined } };
  return cacheSavingsOfCounts(counts, ctx).readSavingsPico;
}

export interface WorstCaseInput {
  /** The input estimate (all input kinds together). */
  inputTokens: number;
  /** `max_tokens` of the request: the most output it can be billed for. */
  maxTokens: number;
  /** The request asks for cache writes; the estimate is then billed at the write rate of that TTL. */
  cacheWrite?: '5m' | '1h';
}

/**
 * The most a request can cost before it is sent, for budget reservation: the input estimate at
 * the dearest input rate it can be billed at, plus `max_tokens` at the output rate.
 */
export function worstCaseCost(
  model: string,
  at: Date,
  request: WorstCaseInput,
  options: CostOptions = {},
): Cost {
  const found = priceContext(model, at, options);
  if (!found.ok) return found.cost;
  const counts: TokenCounts = {
    input: request.cacheWrite ? 0 : request.inputTokens,
    cacheWrite5m: request.cacheWrite === '5m' ? request.inputTokens : 0,
    cacheWrite1h: request.cacheWrite === '1h' ? request.inputTokens : 0,
    cacheRead: 0,
    output: request.maxTokens,
  };
  return priceCounts(counts, found.ctx);
}

/** The longest cache TTL a request body asks for (explicit breakpoints or automatic caching). */
export function requestedCacheWrite(body: unknown): '5m' | '1h' | undefined {
  let found: '5m' | '1h' | undefined;
  const visit = (value: unknown, depth: number): void => {
    if (found === '1h' || depth > 8 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    const record = value as Record<string, unknown>;
    const control = record['cache_control'];
    if (control && typeof control === 'object') {
      found = (control as { ttl?: string }).ttl === '1h' ? '1h' : (found ?? '5m');
    }
    for (const key of ['system', 'messages', 'tools', 'content']) visit(record[key], depth + 1);
  };
  visit(body, 0);
  return found;
}
