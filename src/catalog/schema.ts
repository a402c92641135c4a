import { z } from 'zod';

const decimal = z.string().regex(/^\d+(\.\d+)?$/, 'a decimal number written as a string, e.g. "3.75"');
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD');

export const modelSchema = z.object({
  id: z.string().min(1),
  aliases: z.array(z.string()).default([]),
  displayName: z.string(),
  class: z.string().min(1),
  createdAt: z.string(),
  contextWindow: z.number().int().positive(),
  maxOutputTokens: z.number().int().positive(),
  minCacheableTokens: z.number().int().nonnegative(),
  tokenizer: z.string(),
  longContext: z.object({ thresholdTokens: z.number().int().positive(), beta: z.string() }).optional(),
  retiresAt: isoDate.optional(),
  unconfirmed: z.array(z.string()).optional(),
});

const rates = z.object({
  input: decimal,
  cacheWrite5m: decimal,
  cacheWrite1h: decimal,
  cacheRead: decimal,
  output: decimal,
});

export const priceSchema = rates.extend({
  model: z.string().min(1),
  from: isoDate,
  longContext: rates.optional(),
});

const limitSchema = z.object({
  rpm: z.number().int().positive(),
  itpm: z.number().int().positive(),
  otpm: z.number().int().positive(),
});

export const tierSchema = z.object({
  name: z.string().min(1),
  aliases: z.array(z.string()).default([]),
  creditThresholdUsd: decimal.optional(),
  monthlySpendCapUsd: decimal.optional(),
  unconfirmed: z.boolean().optional(),
  limits: z.record(z.string(), limitSchema),
});

export const modelsFileSchema = z.object({
  version: z.string(),
  source: z.string(),
  models: z.array(modelSchema),
});
export const pricesFileSchema = z.object({
  version: z.string(),
  source: z.string(),
  unit: z.literal('USD per million tokens'),
  batchDiscount: decimal,
  inferenceGeoMultiplier: z.object({ us: decimal, appliesFromModels: z.array(z.string()) }),
  prices: z.array(priceSchema),
});
export const tiersFileSchema = z.object({
  version: z.string(),
  source: z.string(),
  defaultTier: z.string(),
  tiers: z.array(tierSchema),
});

/** What `sluice.yaml` may override: whole entries, matched by model id or tier name. */
export const catalogOverridesSchema = z
  .object({
    models: z.array(modelSchema).default([]),
    prices: z.array(priceSchema).default([]),
    tiers: z.array(tierSchema).default([]),
  })
  .partial();

export type ModelInfo = z.infer<typeof modelSchema>;
export type PriceEntry = z.infer<typeof priceSchema>;
export type Rates = z.infer<typeof rates>;
export type TierInfo = z.infer<typeof tierSchema>;
export type RateLimits = z.infer<typeof limitSchema>;
export type CatalogOverrides = z.infer<typeof catalogOverridesSchema>;
