import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Catalog,
  CatalogError,
  defaultCatalog,
  isNewerVersion,
  parseCatalogDocument,
  shippedCatalogPath,
} from '../../src/catalog/catalog.js';
import { loadConfig } from '../../src/config/load.js';

const at = (day: string) => new Date(`${day}T12:00:00Z`);
const today = at('2026-11-27');

describe('catalog', () => {
  const catalog = defaultCatalog();

  it('resolves aliases and dated ids to one model, with its family and rate-limit pool', () => {
    expect(catalog.model('claude-haiku-4-5')?.id).toBe('claude-haiku-4-5-20251001');
    expect(catalog.model('claude-haiku-4-5-20251001')).toMatchObject({ family: 'haiku', pool: 'haiku-4-5' });
    expect(catalog.model('claude-opus-5-5')).toMatchObject({ family: 'opus', pool: 'opus-5-5' });
    expect(catalog.model('claude-opus-4-7')?.pool).toBe(catalog.model('claude-opus-4-8')?.pool);
    expect(catalog.model('claude-nonexistent')).toBeUndefined();
  });

  it('knows the current line-up: windows, output limits and retirements as data', () => {
    for (const id of ['claude-opus-5-5', 'claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-fable-5-2']) {
      expect(catalog.model(id), id).toMatchObject({ contextWindow: 1_000_000, maxOutputTokens: 128_000 });
      expect(catalog.statusAt(catalog.model(id)!, today), id).toBe('active');
    }
    expect(catalog.statusAt(catalog.model('claude-opus-4-1')!, today)).toBe('retired');
    expect(catalog.statusAt(catalog.model('claude-3-5-haiku-20241022')!, today)).toBe('retired');
    // Sonnet 4.5 is deprecated until its retirement date, retired from that day on.
    const sonnet45 = catalog.model('claude-sonnet-4-5')!;
    expect(catalog.statusAt(sonnet45, at('2026-11-29'))).toBe('deprecated');
    expect(catalog.statusAt(sonnet45, at('2026-11-30'))).toBe('retired');
    expect(sonnet45.replacement).toBe('claude-sonnet-5-5');
    expect(catalog.routingDefaults).toEqual({
      fast: 'claude-haiku-5-5',
      reasoning: 'claude-sonnet-5-5',
      critical: 'claude-opus-5-5',
    });
  });

  it('records a source and the day it was checked for every model, price, pool and tier', () => {
    for (const entry of [...catalog.models, ...catalog.prices, ...catalog.pools, ...catalog.tiers]) {
      expect(entry.source.length, JSON.stringify(entry).slice(0, 60)).toBeGreaterThan(3);
      expect(entry.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('picks the price in force at the request time', () => {
    // Sonnet 5's step to $3/$15 was cancelled: $2/$10 before and after 2026-09-01.
    expect(catalog.priceAt('claude-sonnet-5', at('2026-08-31'))?.input).toBe('2.00');
    expect(catalog.priceAt('claude-sonnet-5', at('2026-09-01'))?.input).toBe('2.00');
    expect(catalog.priceAt('claude-sonnet-5', at('2026-06-29'))).toBeUndefined();
    // Sonnet 5.5's cache read was cut on 2026-10-07.
    expect(catalog.priceAt('claude-sonnet-5-5', at('2026-10-06'))?.cacheRead).toBe('0.20');
    expect(catalog.priceAt('claude-sonnet-5-5', at('2026-10-07'))?.cacheRead).toBe('0.10');
    expect(catalog.priceAt('claude-mythos-preview', today)).toBeUndefined();
  });

  it('gives the dearest rates of a family (or the whole catalog) for what has no price', () => {
    expect(catalog.familyOf('claude-opus-6')).toBe('opus');
    expect(catalog.familyOf('claude-mythos-9')).toBe('mythos');
    expect(catalog.familyOf('gpt-5')).toBeUndefined();
    // Opus models that can be called: 5.5 at $4/$20, 5 and 4.x at $5/$25 (fast: $8/$40, $10/$50);
    // the retired 4.1 at $15/$75 no longer counts. Cache reads: the dearest is 4.x's $0.50.
    expect(catalog.worstRates('opus', today, false)).toEqual({
      input: '5.00',
      cacheWrite5m: '6.25',
      cacheWrite1h: '10.00',
      cacheRead: '0.50',
      output: '25.00',
    });
    expect(catalog.worstRates('opus', today, true)).toMatchObject({ input: '10.00', output: '50.00' });
    // Unknown family: the whole catalog's dearest (Fable and Mythos 5/5.1 at $10/$50).
    expect(catalog.worstRates(undefined, today, false)).toMatchObject({ input: '10.00', output: '50.00' });
    // Haiku 5.5's prompt-size tier ($0.50/$2.50) is below Haiku 4.5's $1/$5.
    expect(catalog.worstRates('haiku', today, false)).toMatchObject({ input: '1.00', output: '5.00' });
  });

  it('gives tier limits per pool, fast mode apart, by name', () => {
    expect(catalog.defaultTier).toBe('evaluation');
    expect(catalog.tierLimits('start', 'opus-4')).toEqual({ rpm: 1000, itpm: 2_000_000, otpm: 400_000 });
    expect(catalog.tierLimits('start', 'fable')).toEqual({ rpm: 1000, itpm: 500_000, otpm: 100_000 });
    expect(catalog.tierLimits('scale', 'fable')).toEqual({ rpm: 4000, itpm: 4_000_000, otpm: 800_000 });
    expect(catalog.tierLimits('build', 'opus-5-5', true).rpm).toBeGreaterThan(0);
    expect(catalog.tier('start')?.monthlySpendCapUsd).toBe('500');
    expect(catalog.tier('custom')?.monthlySpendCapUsd).toBeUndefined();
    expect(() => catalog.tierLimits('tier-9', 'haiku-4-5')).toThrow(/unknown tier "tier-9"/);
  });

  it('applies overrides and validates them', () => {
    const price = {
      from: '2027-01-01',
      source: 'test',
      checked: '2026-11-27',
      input: '0.90',
      cacheWrite5m: '1.125',
      cacheWrite1h: '1.80',
      cacheRead: '0.09',
      output: '4.50',
    };
    const custom = new Catalog({ prices: [{ model: 'claude-haiku-4-5', ...price }] });
    expect(custom.priceAt('claude-haiku-4-5', at('2027-02-01'))?.input).toBe('0.90');
    expect(custom.priceAt('claude-haiku-4-5', at('2026-12-01'))?.input).toBe('1.00');
    expect(() => new Catalog({ prices: [{ model: 'nope', ...price }] })).toThrow(CatalogError);
  });

  it('refuses a malformed document, naming the field', () => {
    const shipped = JSON.parse(readFileSync(shippedCatalogPath, 'utf8'));
    expect(() => parseCatalogDocument('{', 'x.json')).toThrow(/x\.json: not JSON/);
    const broken = structuredClone(shipped);
    broken.prices[0].input = 'eight';
    expect(() => parseCatalogDocument(JSON.stringify(broken), 'x.json')).toThrow(/prices\.0\.input/);
    const noSource = structuredClone(shipped);
    delete noSource.models[0].source;
    expect(() => parseCatalogDocument(JSON.stringify(noSource), 'x.json')).toThrow(/models\.0\.source/);
  });

  it('orders catalog versions by day, then by revision', () => {
    expect(isNewerVersion('2026-11-28', '2026-11-27')).toBe(true);
    expect(isNewerVersion('2026-11-27.2', '2026-11-27')).toBe(true);
    expect(isNewerVersion('2026-11-27.10', '2026-11-27.9')).toBe(true);
    expect(isNewerVersion('2026-11-27', '2026-11-27')).toBe(false);
    expect(isNewerVersion('2026-10-01', '2026-11-27')).toBe(false);
  });

  it('takes the override shown in docs/catalog.md as written', () => {
    const doc = readFileSync(new URL('../../docs/catalog.md', import.meta.url), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc.slice(doc.indexOf('## Overriding entries')))?.[1];
    expect(yaml).toBeDefined();
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-catalog-doc-'));
    writeFileSync(join(cwd, 'sluice.yaml'), yaml!);
    const { config } = loadConfig({ cwd, env: {} });
    const custom = new Catalog(config.catalog);
    expect(custom.unpricedPolicy).toBe('worst-case');
    expect(custom.priceAt('claude-sonnet-5-5', at('2027-01-02'))?.input).toBe('1.80');
    expect(custom.priceAt('claude-sonnet-5-5', at('2026-12-31'))?.input).toBe('2.00');
  });
});
