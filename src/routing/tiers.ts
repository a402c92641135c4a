import { defaultCatalog } from '../catalog/catalog.js';

/** Routing tiers, cheapest first. The order is the tier ranking used for floors and caps. */
export const TIERS = ['fast', 'reasoning', 'critical'] as const;
export type Tier = (typeof TIERS)[number];

/** Model names a client may send instead of a concrete model. */
export const AUTO_MODEL = 'auto';
export const TIER_ALIASES: Readonly<Record<string, Tier>> = {
  'sluice-fast': 'fast',
  'sluice-reasoning': 'reasoning',
  'sluice-critical': 'critical',
};

export function isRoutingAlias(model: string): boolean {
  return model === AUTO_MODEL || Object.hasOwn(TIER_ALIASES, model);
}

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier);
}

export function maxTier(a: Tier, b: Tier): Tier {
  return tierRank(a) >= tierRank(b) ? a : b;
}

export function minTier(a: Tier, b: Tier): Tier {
  return tierRank(a) <= tierRank(b) ? a : b;
}

/** Environment variables that set each tier's model. */
export const TIER_MODEL_ENV: Readonly<Record<Tier, string>> = {
  fast: 'ANTHROPIC_DEFAULT_MODEL',
  reasoning: 'ANTHROPIC_REASONING_MODEL',
  critical: 'ANTHROPIC_CRITICAL_MODEL',
};

/** The catalog's current model for each tier (data, updated with the catalog). */
export const DEFAULT_TIER_MODELS: Readonly<Record<Tier, string>> = defaultCatalog().routingDefaults;

/** Tier → model: the configuration's value, else the environment's, else the default. */
export function tierModels(
  configured: Partial<Record<Tier, string>> | undefined,
  env: Record<string, string | undefined>,
): Record<Tier, string> {
  const pick = (tier: Tier): string =>
    configured?.[tier] || env[TIER_MODEL_ENV[tier]]?.trim() || DEFAULT_TIER_MODELS[tier];
  return { fast: pick('fast'), reasoning: pick('reasoning'), critical: pick('critical') };
}
