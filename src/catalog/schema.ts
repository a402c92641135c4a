import { z } from 'zod';

const decimal = z.string().regex(/^\d+(\.\d+)?$/, 'a decimal number written as a string, e.g. "3.75"');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');
/** Where a fact comes from and when it was last checked against it. */
const sourced = {
  source: z.string().min(1),
  checked: isoDate,
  /** Fields whose value no primary source confirms: data to override, not facts. */
  unconfirmed: z.array(z.string()).optional(),
};

export const modelStatuses = ['active', 'legacy', 'deprecated', 'retired'] as const;
export type ModelStatus = (typeof modelStatuses)[number];

export const modelSchema = z.strictObject({
  id: z.string().min(1),
  aliases: z.array(z.string()).default([]),
  displayName: z.string(),
  /** opus, sonnet, haiku, fable, mythos: unknown models of a family are priced at its dearest. */
  family: z.string().min(1),
  /** The upstream rate-limit pool the model shares with others (one bucket set per pool). */
  pool: z.string().min(1),
  /** Status as published when checked; a `retiresAt` in the past makes it retired regardless. */
  status: z.enum(modelStatuses),
  releasedAt: isoDate,
  deprecatedAt: isoDate.optional(),
  retiresAt: isoDate.optional(),
  /** "Retirement not sooner than": a legacy model's earliest possible retirement. */
  retirementNotBefore: isoDate.optional(),
  replacement: z.string().optional(),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive(),
  /** Message Batches' larger output limit (beta `output-300k-2026-03-24`). */
  batchMaxOutputTokens: z.number().int().positive().optional(),
  minCacheableTokens: z.number().int().nonnegative(),
  tokenizer: z.string(),
  /** A beta that opens a larger window at other prices (the prices' `promptTiers`). */
  longContext: z.strictObject({ thresholdTokens: z.number().int().positive(), beta: z.string() }).optional(),
  thinking: z.strictObject({
    modes: z.array(z.enum(['adaptive', 'manual'])),
    alwaysOn: z.boolean().optional(),
    defaultEffort: z.string().optional(),
  }),
  /** `inference_geo` accepted (and its multiplier billed); older models refuse the field. */
  inferenceGeo: z.boolean(),
  /**
   * `speed: "fast"`: ga, preview (needs `beta`), deprecated (works until `until`), ignored
   * (accepted, answered at standard speed). Absent: refused.
   */
  fastMode: z
    .strictObject({
      status: z.enum(['ga', 'preview', 'deprecated', 'ignored']),
      beta: z.string().optional(),
      until: isoDate.optional(),
    })
    .optional(),
  /** Request rules the API enforces for this model (names the simulator knows; unknown ones are skipped). */
  rules: z.array(z.string()).default([]),
  ...sourced,
});

const ratesShape = {
  input: decimal,
  cacheWrite5m: decimal,
  cacheWrite1h: decimal,
  cacheRead: decimal,
  output: decimal,
};
const rates = z.strictObject(ratesShape);

export const priceSchema = z.strictObject({
  model: z.string().min(1),
  /** The day (UTC) from which this price holds; the entry with the latest `from` not after a request's day wins. */
  from: isoDate,
  ...ratesShape,
  /** Every token of a request whose prompt exceeds `aboveTokens` at these rates (highest matching tier). */
  promptTiers: z
    .array(z.strictObject({ aboveTokens: z.number().int().positive(), ...ratesShape }))
    .optional(),
  /** Rates when the response reports `usage.speed: "fast"`. */
  fast: rates.optional(),
  ...sourced,
});

const limitSchema = z.strictObject({
  rpm: z.number().int().positive(),
  itpm: z.number().int().positive(),
  otpm: z.number().int().positive(),
});

export const poolSchema = z.strictObject({
  id: z.string().min(1),
  displayName: z.string(),
  family: z.string(),
  source: z.string(),
  checked: isoDate,
  /** Whether the pool's figures are copied from a sibling rather than published. */
  unconfirmed: z.boolean().default(false),
});

export const tierSchema = z.strictObject({
  name: z.string().min(1),
  displayName: z.string().optional(),
  aliases: z.array(z.string()).default([]),
  monthlySpendCapUsd: decimal.optional(),
  note: z.string().optional(),
  /** Per pool; a pool the tier does not list gets the tier's smallest figures. */
  limits: z.record(z.string(), limitSchema),
  /** Fast mode's own limits per pool (headers `anthropic-fast-*`). */
  fastLimits: z.record(z.string(), limitSchema).default({}),
  batch: z
    .strictObject({
      rpm: z.number().int().positive(),
      queuedRequests: z.number().int().positive(),
      requestsPerBatch: z.number().int().positive(),
    })
    .optional(),
  ...sourced,
});

const sourcedValue = <T extends z.ZodType>(value: T) => z.strictObject({ value, source: z.string() });

export const catalogDocumentSchema = z.strictObject({
  schema: z.literal(2),
  /** Compared as text: a newer catalog has a later version (YYYY-MM-DD, optionally `.N`). */
  version: z.string().regex(/^\d{4}-\d{2}-\d{2}(\.\d+)?$/, 'a version YYYY-MM-DD or YYYY-MM-DD.N'),
  checked: isoDate,
  source: z.string(),
  unit: z.literal('USD per million tokens'),
  /** The models `auto` routes to by default (overridden by configuration). */
  routing: z.strictObject({ fast: z.string(), reasoning: z.string(), critical: z.string() }),
  multipliers: z.strictObject({
    batch: sourcedValue(decimal),
    inferenceGeo: z.strictObject({ values: z.record(z.string(), decimal), source: z.string() }),
  }),
  serverTools: z.strictObject({
    webSearch: z.strictObject({ usdPerUse: decimal, usageField: z.string(), source: z.string() }),
    webFetch: z.strictObject({ usdPerUse: decimal, usageField: z.string(), source: z.string() }),
    codeExecution: z.strictObject({
      usdPerContainerHour: decimal,
      freeHoursPerMonth: z.number().nonnegative(),
      minimumMinutes: z.number().nonnegative(),
      usageField: z.string(),
      source: z.string(),
    }),
  }),
  /**
   * Largest upload each endpoint accepts, in bytes of request body. Optional: a catalog without
   * it leaves uploads to the upstream's own limit.
   */
  uploads: z
    .record(z.string(), z.strictObject({ maxBytes: z.number().int().positive(), ...sourced }))
    .optional(),
  models: z.array(modelSchema),
  prices: z.array(priceSchema),
  pools: z.array(poolSchema),
  defaultTier: z.string(),
  tiers: z.array(tierSchema),
});

export const unpricedPolicies = ['refuse', 'worst-case', 'allow'] as const;
export type UnpricedPolicy = (typeof unpricedPolicies)[number];

/** What `sluice.yaml` may override: whole entries, matched by model id, price model+date or tier name. */
export const catalogOverridesSchema = z
  .object({
    models: z.array(modelSchema).default([]),
    prices: z.array(priceSchema).default([]),
    tiers: z.array(tierSchema).default([]),
    /**
     * A model without a price: refuse it, reserve and record it at its family's dearest price
     * (default), or let it through uncounted.
     */
    unpriced: z.enum(unpricedPolicies).default('worst-case'),
  })
  .partial();

export type CatalogDocument = z.infer<typeof catalogDocumentSchema>;
export type ModelInfo = z.infer<typeof modelSchema>;
export type PriceEntry = z.infer<typeof priceSchema>;
export type Rates = z.infer<typeof rates>;
export type PoolInfo = z.infer<typeof poolSchema>;
export type TierInfo = z.infer<typeof tierSchema>;
export type RateLimits = z.infer<typeof limitSchema>;
export type CatalogOverrides = z.infer<typeof catalogOverridesSchema>;
