import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import type { RateLimits } from '../catalog/schema.js';
import type { Priority, Quotas } from '../pipeline/types.js';
import { sharedCountersSchema } from '../store/redis-config.js';

const positiveInt = z.number().int().positive();
const rateLimits = z.object({ rpm: positiveInt, itpm: positiveInt, otpm: positiveInt });
const quotas = z.object({
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  tpd: positiveInt.optional(),
});

/** The `limits:` section of sluice.yaml. */
export const limitsConfigSchema = z.object({
  /** false: no admission control at all (every request goes straight to forwarding). */
  enabled: z.boolean().default(true),
  /** Tier whose published limits size the upstream buckets (catalog name or alias); default: the catalog's most conservative. */
  tier: z.string().optional(),
  /** Explicit limits for every credential and model class (`--rpm/--itpm/--otpm`); wins over the tier. */
  rpm: positiveInt.optional(),
  itpm: positiveInt.optional(),
  otpm: positiveInt.optional(),
  /** Per upstream credential id, per model class (or `*`): explicit limits; wins over everything else. */
  credentials: z.record(z.string(), z.record(z.string(), rateLimits)).default({}),
  /** Quotas per environment, shared by all keys of that environment. */
  environments: z.record(z.string(), quotas).default({}),
  /** Longest wait in the admission queue before answering 429, in milliseconds. */
  maxWaitMs: z
    .object({ interactive: z.number().int().nonnegative(), batch: z.number().int().nonnegative() })
    .default({ interactive: 10_000, batch: 60_000 }),
  /** Waiters per (credential, model class) queue. */
  maxQueueLength: positiveInt.default(1000),
  /** Length of the "minute" in milliseconds (shorter only to test against a time-compressed simulator). */
  windowMs: positiveInt.default(60_000),
  /** Redis unreachable, failOpen true: local buckets with a warning; false: refuse with overloaded_error. */
  store: sharedCountersSchema('sluice:limits:'),
});

export type LimitsConfig = z.infer<typeof limitsConfigSchema>;
export type MaxWait = LimitsConfig['maxWaitMs'];
export type { Priority, Quotas };

/** Reads `SLUICE_TIER`, `SLUICE_RPM`, `SLUICE_ITPM`, `SLUICE_OTPM` over what the file says. */
export function limitsFromEnvironment(
  base: Partial<LimitsConfig>,
  env: NodeJS.ProcessEnv = process.env,
): Partial<LimitsConfig> {
  const merged = { ...base };
  if (env.SLUICE_TIER) merged.tier = env.SLUICE_TIER;
  for (const [field, variable] of [
    ['rpm', 'SLUICE_RPM'],
    ['itpm', 'SLUICE_ITPM'],
    ['otpm', 'SLUICE_OTPM'],
  ] as const) {
    const value = env[variable];
    if (value) merged[field] = Number(value);
  }
  return merged;
}

/**
 * The starting size of an upstream credential's buckets for a model class. Order: explicit per
 * credential and class, per credential `*`, global explicit numbers (each missing one taken from
 * the tier), the configured tier, the catalog's default tier. Response headers refine it later.
 */
export function initialUpstreamLimits(
  config: Pick<LimitsConfig, 'tier' | 'rpm' | 'itpm' | 'otpm' | 'credentials'>,
  catalog: Catalog,
  credentialId: string,
  modelClass: string,
): RateLimits {
  const perCredential = config.credentials?.[credentialId];
  const explicit = perCredential?.[modelClass] ?? perCredential?.['*'];
  if (explicit) return explicit;
  const tier = catalog.tierLimits(config.tier ?? catalog.defaultTier, modelClass);
  return { rpm: config.rpm ?? tier.rpm, itpm: config.itpm ?? tier.itpm, otpm: config.otpm ?? tier.otpm };
}
