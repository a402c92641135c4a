import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import type { RateLimits } from '../catalog/schema.js';
import type { Priority, Quotas } from '../pipeline/types.js';
import { sharedCountersSchema } from '../store/redis-config.js';
import type { Speed } from './headers.js';
import { runawayConfigSchema } from './runaway-config.js';

const positiveInt = z.number().int().positive();
const rateLimits = z.object({ rpm: positiveInt, itpm: positiveInt, otpm: positiveInt });
/** A pool's explicit limits; `fast` sizes its fast-mode buckets (else the tier's fast limits). */
const poolLimits = rateLimits.extend({ fast: rateLimits.optional() });
const quotas = z.object({
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  tpd: positiveInt.optional(),
});

/** The `limits:` section of sluice.yaml. */
export const limitsConfigSchema = z.object({
  /** false: no admission control at all (every request goes straight to forwarding). */
  enabled: z.boolean().default(true),
  /** Tier whose published limits size the upstream buckets (catalog name or alias); default: the catalog's `defaultTier`. */
  tier: z.string().optional(),
  /** Explicit standard-speed limits for every credential and pool (`--rpm/--itpm/--otpm`); win over the tier. */
  rpm: positiveInt.optional(),
  itpm: positiveInt.optional(),
  otpm: positiveInt.optional(),
  /** Per upstream credential id, per catalog pool (or `*`): explicit limits; win over everything else. */
  credentials: z.record(z.string(), z.record(z.string(), poolLimits)).default({}),
  /** Quotas per environment, shared by all keys of that environment. */
  environments: z.record(z.string(), quotas).default({}),
  /** Longest wait in the admission queue before answering 429, in milliseconds. */
  maxWaitMs: z
    .object({ interactive: z.number().int().nonnegative(), batch: z.number().int().nonnegative() })
    .default({ interactive: 10_000, batch: 60_000 }),
  /** Waiters per (credential, pool, speed) queue. */
  maxQueueLength: positiveInt.default(1000),
  /** Length of the "minute" in milliseconds (shorter only to test against a time-compressed simulator). */
  windowMs: positiveInt.default(60_000),
  /** Redis unreachable, failOpen true: local buckets with a warning; false: refuse with overloaded_error. */
  store: sharedCountersSchema('sluice:limits:'),
  /** Runaway guards per session and per key (docs/limits.md); read with SLUICE_RUNAWAY_* over it. */
  runaway: runawayConfigSchema.optional(),
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

export class LimitsConfigError extends Error {
  override name = 'LimitsConfigError';
}

/**
 * Names in the configuration that the catalog must know: the tier and every pool under
 * `credentials`. Old model-class names ("opus", "tier-1") are refused here, not ignored.
 */
export function checkLimitsConfig(
  config: Pick<LimitsConfig, 'tier' | 'credentials'>,
  catalog: Catalog,
): void {
  if (config.tier !== undefined && !catalog.tier(config.tier)) {
    throw new LimitsConfigError(
      `limits.tier: unknown tier "${config.tier}"; known tiers: ${catalog.tierNames().join(', ')}`,
    );
  }
  const pools = new Set(catalog.poolIds());
  for (const [credential, byPool] of Object.entries(config.credentials ?? {})) {
    for (const pool of Object.keys(byPool)) {
      if (pool !== '*' && !pools.has(pool)) {
        throw new LimitsConfigError(
          `limits.credentials.${credential}.${pool}: unknown pool "${pool}"; known pools: ${[...pools].join(', ')}, or * for all`,
        );
      }
    }
  }
}

/** The starting size of a bucket set, and whether it was configured (trusted at once) or not. */
export interface InitialLimits {
  limits: RateLimits;
  /** Configured in full: used at once, without waiting for the upstream's headers. */
  explicit: boolean;
}

/**
 * The starting size of an upstream credential's buckets for a pool at a speed. Standard:
 * explicit per credential and pool, per credential `*`, global explicit numbers (each missing
 * one taken from the tier), the configured tier, the catalog's default tier. Fast: the `fast`
 * entry of the same per-credential limits, else the tier's fast limits (global numbers size
 * standard buckets only). Response headers refine it later.
 */
export function initialUpstreamLimits(
  config: Pick<LimitsConfig, 'tier' | 'rpm' | 'itpm' | 'otpm' | 'credentials'>,
  catalog: Catalog,
  credentialId: string,
  pool: string,
  speed: Speed = 'standard',
): InitialLimits {
  const perCredential = config.credentials?.[credentialId];
  const entry = perCredential?.[pool] ?? perCredential?.['*'];
  const tierName = config.tier ?? catalog.defaultTier;
  if (speed === 'fast') {
    const fast = perCredential?.[pool]?.fast ?? perCredential?.['*']?.fast;
    if (fast) return { limits: limitsOf(fast), explicit: true };
    return { limits: catalog.tierLimits(tierName, pool, true), explicit: false };
  }
  if (entry) return { limits: limitsOf(entry), explicit: true };
  const tier = catalog.tierLimits(tierName, pool);
  return {
    limits: { rpm: config.rpm ?? tier.rpm, itpm: config.itpm ?? tier.itpm, otpm: config.otpm ?? tier.otpm },
    explicit: config.rpm !== undefined && config.itpm !== undefined && config.otpm !== undefined,
  };
}

function limitsOf(limits: RateLimits): RateLimits {
  return { rpm: limits.rpm, itpm: limits.itpm, otpm: limits.otpm };
}
