import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { initialUpstreamLimits, limitsConfigSchema, limitsFromEnvironment } from '../../src/limits/config.js';

const catalog = defaultCatalog();

describe('upstream limit configuration', () => {
  it('starts from the catalog default tier when nothing is configured', () => {
    const config = limitsConfigSchema.parse({});
    expect(initialUpstreamLimits(config, catalog, 'prod', 'haiku')).toEqual(
      catalog.tierLimits(catalog.defaultTier, 'haiku'),
    );
  });

  it('uses a named tier, explicit numbers over it, and per-credential limits over everything', () => {
    const config = limitsConfigSchema.parse({
      tier: 'tier-2',
      otpm: 5000,
      credentials: {
        staging: { opus: { rpm: 7, itpm: 70, otpm: 700 }, '*': { rpm: 1, itpm: 10, otpm: 100 } },
      },
    });
    expect(initialUpstreamLimits(config, catalog, 'prod', 'opus')).toEqual({
      rpm: 1000,
      itpm: 450_000,
      otpm: 5000,
    });
    expect(initialUpstreamLimits(config, catalog, 'staging', 'opus')).toEqual({
      rpm: 7,
      itpm: 70,
      otpm: 700,
    });
    expect(initialUpstreamLimits(config, catalog, 'staging', 'haiku')).toEqual({
      rpm: 1,
      itpm: 10,
      otpm: 100,
    });
  });

  it('reads SLUICE_TIER and explicit numbers from the environment', () => {
    const merged = limitsFromEnvironment({ tier: 'tier-1' }, { SLUICE_TIER: 'tier-3', SLUICE_RPM: '99' });
    expect(initialUpstreamLimits(limitsConfigSchema.parse(merged), catalog, 'x', 'sonnet')).toEqual({
      rpm: 99,
      itpm: 800_000,
      otpm: 160_000,
    });
  });
});
