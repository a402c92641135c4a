import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import {
  checkLimitsConfig,
  initialUpstreamLimits,
  LimitsConfigError,
  limitsConfigSchema,
  limitsFromEnvironment,
} from '../../src/limits/config.js';

const catalog = defaultCatalog();

describe('upstream limit configuration', () => {
  it('starts from the catalog default tier (evaluation) when nothing is configured, not trusted yet', () => {
    const config = limitsConfigSchema.parse({});
    expect(catalog.defaultTier).toBe('evaluation');
    expect(initialUpstreamLimits(config, catalog, 'prod', 'haiku-5-5')).toEqual({
      limits: catalog.tierLimits('evaluation', 'haiku-5-5'),
      explicit: false,
    });
  });

  it('uses a named tier per pool, explicit numbers over it, and per-credential limits over everything', () => {
    const config = limitsConfigSchema.parse({
      tier: 'build',
      otpm: 5000,
      credentials: {
        staging: { 'opus-5-5': { rpm: 7, itpm: 70, otpm: 700 }, '*': { rpm: 1, itpm: 10, otpm: 100 } },
      },
    });
    const fable = catalog.tierLimits('build', 'fable');
    expect(fable.rpm).not.toBe(catalog.tierLimits('build', 'opus-5').rpm);
    expect(initialUpstreamLimits(config, catalog, 'prod', 'fable')).toEqual({
      limits: { rpm: fable.rpm, itpm: fable.itpm, otpm: 5000 },
      explicit: false,
    });
    expect(initialUpstreamLimits(config, catalog, 'staging', 'opus-5-5')).toEqual({
      limits: { rpm: 7, itpm: 70, otpm: 700 },
      explicit: true,
    });
    expect(initialUpstreamLimits(config, catalog, 'staging', 'haiku-4-5')).toEqual({
      limits: { rpm: 1, itpm: 10, otpm: 100 },
      explicit: true,
    });
  });

  it('sizes fast-mode buckets from the tier fast limits or a pool entry’s `fast`, never the global numbers', () => {
    const config = limitsConfigSchema.parse({
      tier: 'start',
      rpm: 3,
      itpm: 3000,
      otpm: 300,
      credentials: { prod: { 'opus-5': { rpm: 9, itpm: 90, otpm: 9, fast: { rpm: 2, itpm: 20, otpm: 2 } } } },
    });
    expect(initialUpstreamLimits(config, catalog, 'other', 'opus-5-5', 'fast')).toEqual({
      limits: catalog.tierLimits('start', 'opus-5-5', true),
      explicit: false,
    });
    expect(initialUpstreamLimits(config, catalog, 'other', 'opus-5-5')).toEqual({
      limits: { rpm: 3, itpm: 3000, otpm: 300 },
      explicit: true,
    });
    expect(initialUpstreamLimits(config, catalog, 'prod', 'opus-5', 'fast')).toEqual({
      limits: { rpm: 2, itpm: 20, otpm: 2 },
      explicit: true,
    });
  });

  it('reads SLUICE_TIER and explicit numbers from the environment', () => {
    const merged = limitsFromEnvironment({ tier: 'start' }, { SLUICE_TIER: 'scale', SLUICE_RPM: '99' });
    const scale = catalog.tierLimits('scale', 'sonnet-5');
    expect(initialUpstreamLimits(limitsConfigSchema.parse(merged), catalog, 'x', 'sonnet-5')).toEqual({
      limits: { rpm: 99, itpm: scale.itpm, otpm: scale.otpm },
      explicit: false,
    });
    const all = limitsFromEnvironment({}, { SLUICE_RPM: '5', SLUICE_ITPM: '6000', SLUICE_OTPM: '700' });
    expect(initialUpstreamLimits(limitsConfigSchema.parse(all), catalog, 'x', 'sonnet-5')).toEqual({
      limits: { rpm: 5, itpm: 6000, otpm: 700 },
      explicit: true,
    });
  });

  it('refuses old model-class names and unknown tiers with the names it knows', () => {
    const limits = { rpm: 1, itpm: 1, otpm: 1 };
    const check = (section: unknown) => () => checkLimitsConfig(limitsConfigSchema.parse(section), catalog);
    expect(check({ credentials: { prod: { sonnet: limits } } })).toThrow(LimitsConfigError);
    expect(check({ credentials: { prod: { sonnet: limits } } })).toThrow(
      `limits.credentials.prod.sonnet: unknown pool "sonnet"; known pools: ${catalog.poolIds().join(', ')}, or * for all`,
    );
    expect(check({ tier: 'tier-4' })).toThrow('limits.tier: unknown tier "tier-4"');
    expect(
      check({ tier: 'evaluation', credentials: { prod: { '*': limits, mythos: limits } } }),
    ).not.toThrow();
  });
});
