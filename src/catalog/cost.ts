import type { Usage } from '../pipeline/types.js';
import { type Catalog, defaultCatalog } from './catalog.js';
import { type Decimal, divideByPowerOfTen, multiplyDecimals, parseDecimal, usdToPico } from './money.js';
import type { PriceEntry, Rates } from './schema.js';
import { noteUnpriced } from './unpriced.js';

export interface CostOptions {
  catalog?: Catalog;
  /** A Message Batches result: the batch multiplier applies even when `usage.service_tier` is absent. */
  batch?: boolean;
  /** The request's `inference_geo`, used only when the response's usage does not say where it ran. */
  inferenceGeo?: string | null;
  /** The request's `speed`, used only when the response's usage does not report one. */
  speed?: string | null;
  /** Count and warn when the model has no price (default true; comparisons pass false). */
  track?: boolean;
}

/** Billed counts by kind; 5m and 1h cache writes apart, each counted once; server tools by use. */
export interface TokenCounts {
  input: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  output: number;
  webSearches: number;
  webFetches: number;
  /** Recorded, not priced per request: code execution is billed per container hour. */
  codeExecutions: number;
}

export type TokenKind = 'input' | 'cacheWrite5m' | 'cacheWrite1h' | 'cacheRead' | 'output';
const tokenKinds: TokenKind[] = ['input', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead', 'output'];
export type CostPart = TokenKind | 'webSearch';

export type UnpricedReason = 'unknown model' | 'no price' | 'no fast-mode price';

interface CostFields {
  /** The catalog id of the model that was priced (the name as sent when unknown). */
  model: string;
  /** Total in pico-dollars (1e-12 USD). */
  pico: bigint;
  breakdown: Record<CostPart, bigint>;
  /** A prompt-size tier's rates applied (Haiku 5.5 above 100,000 tokens, Sonnet 4.5 above 200,000). */
  longContext: boolean;
  batch: boolean;
  /** An `inference_geo` multiplier other than 1 applied. */
  geo: boolean;
  fast: boolean;
}

export interface PricedCost extends CostFields {
  priced: true;
  /** The date from which the price used holds. */
  priceFrom: string;
}

/**
 * No price in the catalog. `pico` is what the request is counted at: its family's dearest rates
 * (policy `worst-case`, the default) or 0 (policy `allow`). Never silently $0 under the default.
 */
export interface UnpricedCost extends CostFields {
  priced: false;
  reason: UnpricedReason;
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
  const tools = usage.server_tool_use;
  return {
    input: usage.input_tokens ?? 0,
    cacheWrite5m,
    cacheWrite1h,
    cacheRead: usage.cache_read_input_tokens ?? 0,
    output: usage.output_tokens ?? 0,
    webSearches: tools?.web_search_requests ?? 0,
    webFetches: tools?.web_fetch_requests ?? 0,
    codeExecutions: tools?.code_execution_requests ?? 0,
  };
}

/** The prompt as prompt-size tiers count it: plain input, cache writes and cache reads. */
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

type WholeRates = Record<TokenKind, number>;

/** One way of pricing a model on a day: its rates, prompt tiers and the multipliers in force. */
interface PriceContext {
  model: string;
  priceFrom: string;
  /** Standard-speed or fast rates, as the variant asks. */
  rates: Rates;
  tiers: Array<{ aboveTokens: number; rates: Rates }>;
  multiplier: Decimal;
  batch: boolean;
  geo: boolean;
  fast: boolean;
  webSearchPico: bigint;
  /** Pico-dollars per token when whole (see wholeRates), by tier index (-1: no tier), filled lazily. */
  whole: Map<number, WholeRates | null>;
  unpriced?: UnpricedReason;
}

type DayContexts = Map<string, { dayStart: number; ctx: PriceContext }>;

// Contexts by variant (batch, geo, speed), then model name, for the UTC day they were looked up
// in: every response is priced, and the answer only changes with the day.
// The catalog's generation is kept with them: a `replace` makes them stale.
const contexts = new WeakMap<Catalog, { generation: number; byVariant: Map<string, DayContexts> }>();
const DAY_MS = 86_400_000;
const PLAIN = '';
// There is one catalog in a gateway: the last one asked about is found without a lookup.
let lastCatalog: Catalog | undefined;
let lastGeneration = -1;
let lastContexts: Map<string, DayContexts> | undefined;

interface Variant {
  batch: boolean;
  geo: string | null;
  fast: boolean;
}

/** What the response says happened, the request's fields only where usage is silent. */
function variantOf(usage: Usage | undefined, options: CostOptions): Variant {
  const geo = usage?.inference_geo ?? options.inferenceGeo ?? null;
  const speed = usage?.speed ?? options.speed ?? null;
  return {
    batch: options.batch === true || usage?.service_tier === 'batch',
    geo: typeof geo === 'string' ? geo : null,
    fast: speed === 'fast',
  };
}

function priceContext(modelName: string, at: Date, variant: Variant, catalog: Catalog): PriceContext {
  let byVariant = catalog === lastCatalog && catalog.generation === lastGeneration ? lastContexts : undefined;
  if (!byVariant) {
    const entry = contexts.get(catalog);
    byVariant = entry?.generation === catalog.generation ? entry.byVariant : new Map();
    if (byVariant !== entry?.byVariant) contexts.set(catalog, { generation: catalog.generation, byVariant });
    lastCatalog = catalog;
    lastGeneration = catalog.generation;
    lastContexts = byVariant;
  }
  const key =
    variant.batch || variant.geo || variant.fast
      ? `${variant.batch ? 'b' : ''}${variant.fast ? 'f' : ''}${variant.geo ?? ''}`
      : PLAIN;
  let byModel = byVariant.get(key);
  if (!byModel) {
    byModel = new Map();
    byVariant.set(key, byModel);
  }
  const ms = at.getTime();
  const dayStart = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
  const cached = byModel.get(modelName);
  if (cached?.dayStart === dayStart) return cached.ctx;
  const ctx = lookUpContext(catalog, modelName, at, variant);
  byModel.set(modelName, { dayStart, ctx });
  return ctx;
}

function lookUpContext(catalog: Catalog, modelName: string, at: Date, variant: Variant): PriceContext {
  const model = catalog.model(modelName);
  const price = model ? catalog.priceAt(model.id, at) : undefined;
  const unpriced: UnpricedReason | undefined = !model
    ? 'unknown model'
    : !price
      ? 'no price'
      : variant.fast && !price.fast && model.fastMode?.status !== 'ignored'
        ? 'no fast-mode price'
        : undefined;
  // Fast mode that the model ignores is billed at standard rates (the API says so in usage.speed).
  const fast = variant.fast && (unpriced !== undefined || model?.fastMode?.status !== 'ignored');
  const factors: Decimal[] = [];
  if (variant.batch) factors.push(decimal(catalog.batchMultiplier));
  // An unknown model is assumed to bill the geo multiplier: the dearer assumption.
  const geoFactor = model
    ? catalog.geoMultiplier(model, variant.geo)
    : variant.geo
      ? (catalog.document.multipliers.inferenceGeo.values[variant.geo] ?? '1')
      : '1';
  if (geoFactor !== '1') factors.push(decimal(geoFactor));
  const base = {
    multiplier: multiplyDecimals(...factors),
    batch: variant.batch,
    geo: geoFactor !== '1',
    fast,
    webSearchPico: usdToPico(catalog.serverTools.webSearch.usdPerUse),
    whole: new Map<number, WholeRates | null>(),
  };
  if (unpriced) {
    const rates = catalog.worstRates(catalog.familyOf(modelName), at, variant.fast);
    const counted = catalog.unpricedPolicy !== 'allow';
    return {
      ...base,
      model: model?.id ?? modelName,
      priceFrom: '',
      rates: counted ? rates : zeroRates,
      tiers: [],
      unpriced,
      webSearchPico: counted ? base.webSearchPico : 0n,
    };
  }
  const chosen = fast && price!.fast ? price!.fast : price!;
  return {
    ...base,
    model: model!.id,
    priceFrom: price!.from,
    rates: ratesOf(chosen),
    // Fast mode's rates already cover the whole window; prompt tiers are standard-speed prices.
    tiers: fast ? [] : tiersOf(price!),
  };
}

const zeroRates: Rates = { input: '0', cacheWrite5m: '0', cacheWrite1h: '0', cacheRead: '0', output: '0' };
const ratesOf = (r: Rates): Rates => ({
  input: r.input,
  cacheWrite5m: r.cacheWrite5m,
  cacheWrite1h: r.cacheWrite1h,
  cacheRead: r.cacheRead,
  output: r.output,
});
const tiersOf = (price: PriceEntry) =>
  [...(price.promptTiers ?? [])]
    .sort((a, b) => a.aboveTokens - b.aboveTokens)
    .map((tier) => ({ aboveTokens: tier.aboveTokens, rates: ratesOf(tier) }));

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

/** tokens × rate (USD/MTok) × multiplier, as pico-dollars scaled by 10^scale (exact). */
function scaledAmount(tokens: number, rate: string, multiplier: Decimal): { value: bigint; scale: number } {
  const r = decimal(rate);
  // USD per million tokens → pico-dollars per token is a factor of 1e6.
  return {
    value: BigInt(tokens) * r.units * multiplier.units * 1_000_000n,
    scale: r.scale + multiplier.scale,
  };
}

/** The prompt-size tier a request falls in: the highest whose threshold its prompt exceeds (-1: none). */
function tierIndex(ctx: PriceContext, counts: TokenCounts): number {
  if (ctx.tiers.length === 0) return -1;
  const prompt = totalInputTokens(counts);
  let index = -1;
  for (let i = 0; i < ctx.tiers.length; i++) if (prompt > ctx.tiers[i]!.aboveTokens) index = i;
  return index;
}

function priceCounts(counts: TokenCounts, ctx: PriceContext): Cost {
  const tier = tierIndex(ctx, counts);
  const rates = tier === -1 ? ctx.rates : ctx.tiers[tier]!.rates;
  let whole = ctx.whole.get(tier);
  if (whole === undefined) {
    whole = wholeRates(rates, ctx.multiplier);
    ctx.whole.set(tier, whole);
  }
  const webSearch = counts.webSearches === 0 ? 0n : BigInt(counts.webSearches) * ctx.webSearchPico;
  let breakdown: Record<CostPart, bigint> | undefined;
  let pico = 0n;
  if (whole) {
    const input = counts.input * whole.input;
    const cacheWrite5m = counts.cacheWrite5m * whole.cacheWrite5m;
    const cacheWrite1h = counts.cacheWrite1h * whole.cacheWrite1h;
    const cacheRead = counts.cacheRead * whole.cacheRead;
    const output = counts.output * whole.output;
    const total = input + cacheWrite5m + cacheWrite1h + cacheRead + output;
    // Each part is at most the total, so one check covers them all.
    if (Number.isSafeInteger(total)) {
      breakdown = {
        input: BigInt(input),
        cacheWrite5m: BigInt(cacheWrite5m),
        cacheWrite1h: BigInt(cacheWrite1h),
        cacheRead: BigInt(cacheRead),
        output: BigInt(output),
        webSearch,
      };
      pico = BigInt(total) + webSearch;
    }
  }
  if (!breakdown) {
    const parts = tokenKinds.map((kind) => scaledAmount(counts[kind], rates[kind], ctx.multiplier));
    const scale = Math.max(...parts.map((p) => p.scale));
    let total = 0n;
    for (const part of parts) total += part.value * 10n ** BigInt(scale - part.scale);
    breakdown = Object.fromEntries(
      tokenKinds.map((kind, i) => [kind, divideByPowerOfTen(parts[i]!.value, parts[i]!.scale)]),
    ) as Record<CostPart, bigint>;
    breakdown.webSearch = webSearch;
    pico = divideByPowerOfTen(total, scale) + webSearch;
  }
  const fields = {
    model: ctx.model,
    pico,
    breakdown,
    longContext: tier !== -1,
    batch: ctx.batch,
    geo: ctx.geo,
    fast: ctx.fast,
  };
  if (ctx.unpriced) return { priced: false, reason: ctx.unpriced, ...fields };
  return { priced: true, priceFrom: ctx.priceFrom, ...fields };
}

/**
 * What a request cost, from its usage (streamed or not, the counts are the same) with the price
 * in force at `at`: speed, geo, service tier and server-tool uses as the response reports them.
 * A model without a price is `{ priced: false }` and counted at its family's dearest rates.
 */
export function costOf(usage: Usage, model: string, at: Date, options: CostOptions = {}): Cost {
  const catalog = options.catalog ?? defaultCatalog();
  const ctx = priceContext(model, at, variantOf(usage, options), catalog);
  if (ctx.unpriced && options.track !== false) noteUnpriced(ctx.model, ctx.unpriced, catalog.unpricedPolicy);
  return priceCounts(tokenCounts(usage), ctx);
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
  const ctx = priceContext(model, at, variantOf(usage, options), options.catalog ?? defaultCatalog());
  if (ctx.unpriced) return undefined;
  return cacheSavingsOfCounts(tokenCounts(usage), ctx);
}

function cacheSavingsOfCounts(counts: TokenCounts, ctx: PriceContext): CacheSavings {
  const actual = priceCounts(counts, ctx);
  const tier = tierIndex(ctx, counts);
  const rates = tier === -1 ? ctx.rates : ctx.tiers[tier]!.rates;
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

const noCounts: TokenCounts = {
  input: 0,
  cacheWrite5m: 0,
  cacheWrite1h: 0,
  cacheRead: 0,
  output: 0,
  webSearches: 0,
  webFetches: 0,
  codeExecutions: 0,
};

/** Cache savings from token totals (reports use grouped ledger sums). */
export function cacheReadSavingsOfTokens(
  cacheReadTokens: number,
  model: string,
  at: Date,
  options: CostOptions = {},
): bigint | undefined {
  const ctx = priceContext(model, at, variantOf(undefined, options), options.catalog ?? defaultCatalog());
  if (ctx.unpriced) return undefined;
  // Grouped sums lose the per-request prompt-size split; the standard rates are used.
  return cacheSavingsOfCounts({ ...noCounts, cacheRead: cacheReadTokens }, { ...ctx, tiers: [] })
    .readSavingsPico;
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
 * the dearest input rate it can be billed at, plus `max_tokens` at the output rate, with the
 * request's speed, geo and batch multipliers. Unpriced models are counted at their worst case.
 */
export function worstCaseCost(
  model: string,
  at: Date,
  request: WorstCaseInput,
  options: CostOptions = {},
): Cost {
  const ctx = priceContext(model, at, variantOf(undefined, options), options.catalog ?? defaultCatalog());
  return priceCounts(
    {
      ...noCounts,
      input: request.cacheWrite ? 0 : request.inputTokens,
      cacheWrite5m: request.cacheWrite === '5m' ? request.inputTokens : 0,
      cacheWrite1h: request.cacheWrite === '1h' ? request.inputTokens : 0,
      output: request.maxTokens,
    },
    ctx,
  );
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
