import type { Catalog } from '../catalog/catalog.js';
import type { RateLimitReading } from '../limits/headers.js';

export interface TierMatch {
  tier: string;
  /** True when all three limits equal the tier's published figures for the pool. */
  exact: boolean;
}

/**
 * The tier that the limits in a response's headers imply for a rate-limit pool: the tier whose
 * published RPM / ITPM / OTPM equal them, or else the highest tier they reach.
 */
export function impliedTier(
  catalog: Catalog,
  modelClass: string,
  reading: RateLimitReading,
): TierMatch | undefined {
  const rpm = reading.requests.limit;
  const itpm = reading.inputTokens.limit;
  const otpm = reading.outputTokens.limit;
  if (rpm === undefined || itpm === undefined || otpm === undefined) return undefined;
  let reached: string | undefined;
  for (const tier of catalog.tiers) {
    const limits = catalog.tierLimits(tier.name, modelClass);
    if (limits.rpm === rpm && limits.itpm === itpm && limits.otpm === otpm)
      return { tier: tier.name, exact: true };
    if (limits.rpm <= rpm && limits.itpm <= itpm && limits.otpm <= otpm) {
      if (reached === undefined || catalog.tierLimits(reached, modelClass).rpm < limits.rpm)
        reached = tier.name;
    }
  }
  return reached === undefined ? undefined : { tier: reached, exact: false };
}
