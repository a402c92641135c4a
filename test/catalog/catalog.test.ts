import { describe, expect, it } from 'vitest';
import { Catalog, CatalogError, defaultCatalog } from '../../src/catalog/catalog.js';

describe('catalog', () => {
  const catalog = defaultCatalog();

  it('resolves aliases and dated ids to one model', () => {
    expect(catalog.model('claude-haiku-4-5')?.id).toBe('claude-haiku-4-5-20251001');
    expect(catalog.model('claude-haiku-4-5-20251001')?.class).toBe('haiku');
    expect(catalog.model('claude-nonexistent')).toBeUndefined();
  });

  it('picks the price in force at the request time', () => {
    expect(catalog.priceAt('claude-sonnet-5', new Date('2026-08-31T23:59:59Z'))?.input).toBe('2.00');
    expect(catalog.priceAt('claude-sonnet-5', new Date('2026-09-01T00:00:00Z'))?.input).toBe('3.00');
    expect(catalog.priceAt('claude-sonnet-5', new Date('2026-07-01T00:00:00Z'))).toBeUndefined();
  });

  it('leaves models without published prices unpriced', () => {
    expect(catalog.model('claude-opus-5-5')).toBeDefined();
    expect(catalog.priceAt('claude-opus-5-5', new Date())).toBeUndefined();
  });

  it('gives tier limits per model class, by name or alias', () => {
    expect(catalog.tierLimits('tier-1', 'sonnet')).toEqual({ rpm: 50, itpm: 30000, otpm: 8000 });
    expect(catalog.tierLimits('1', 'haiku')).toEqual({ rpm: 50, itpm: 50000, otpm: 10000 });
    expect(() => catalog.tierLimits('tier-9', 'haiku')).toThrow(/unknown tier "tier-9"/);
  });

  it('applies overrides and validates them', () => {
    const custom = new Catalog({
      prices: [
        {
          model: 'claude-haiku-4-5',
          from: '2027-01-01',
          input: '0.90',
          cacheWrite5m: '1.125',
          cacheWrite1h: '1.80',
          cacheRead: '0.09',
          output: '4.50',
        },
      ],
    });
    expect(custom.priceAt('claude-haiku-4-5', new Date('2027-02-01'))?.input).toBe('0.90');
    expect(custom.priceAt('claude-haiku-4-5', new Date('2026-12-01'))?.input).toBe('1.00');
    expect(
      () =>
        new Catalog({
          prices: [
            {
              model: 'nope',
              from: '2027-01-01',
              input: '1',
              cacheWrite5m: '1',
              cacheWrite1h: '1',
              cacheRead: '1',
              output: '1',
            },
          ],
        }),
    ).toThrow(CatalogError);
  });
});
