import { readFileSync } from 'node:fs';
import { shippedCatalogPath } from '../../src/catalog/catalog.js';
import type { CatalogDocument } from '../../src/catalog/schema.js';

export const shippedText = readFileSync(shippedCatalogPath, 'utf8');
export const shipped = (): CatalogDocument => JSON.parse(shippedText);

/** A model no shipped catalog has, priced at round figures so costs can be computed by hand. */
export const NEW_MODEL = 'claude-test-9';

/** The shipped catalog one version on, with NEW_MODEL and its price (input $1, output $2 per MTok). */
export function newerDocument(version = `${shipped().version}.1`): CatalogDocument {
  const doc = shipped();
  const template = doc.models.find((m) => m.id === 'claude-haiku-5-5')!;
  doc.version = version;
  doc.models.push({ ...template, id: NEW_MODEL, aliases: [], displayName: 'Claude Test 9' });
  doc.prices.push({
    model: NEW_MODEL,
    from: '2026-01-01',
    input: '1.00',
    cacheWrite5m: '1.25',
    cacheWrite1h: '2.00',
    cacheRead: '0.10',
    output: '2.00',
    source: 'test',
    checked: '2026-01-01',
  });
  return doc;
}

export const documentText = (doc: CatalogDocument) => `${JSON.stringify(doc, null, 2)}\n`;
