import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scan } from '../../src/secrets/scan.js';
import { findKeys } from '../../src/secrets/shapes.js';
import {
  fakeKey,
  type KeyFixture,
  negativeLines,
  POSITIVE_CONTEXTS,
  writeKeyFixture,
} from '../fixtures/secrets/fixture.js';

describe('key shapes', () => {
  it('finds every kind of key and ends it at the AA terminator, whatever follows', () => {
    for (const kind of ['api', 'admin', 'oat', 'ort'] as const) {
      const key = fakeKey(kind, `unit:${kind}`);
      for (const after of [',', ')', '}', '-', '-prod', '_', '"', '', '\n']) {
        const found = findKeys(Buffer.from(`x=${key}${after}`));
        expect(found.map((match) => match.secret)).toEqual([key]);
        expect(found[0]!.start).toBe(2);
      }
    }
  });

  it('rejects an API-key body followed directly by letters: that token is longer than a key', () => {
    expect(findKeys(Buffer.from(`${fakeKey('api', 'long')}bc`))).toEqual([]);
  });

  it('reports no look-alike or placeholder', () => {
    for (const line of negativeLines()) expect(findKeys(Buffer.from(line)), line).toEqual([]);
  });
});

describe('scanning the key fixture', () => {
  let fixture: KeyFixture;
  beforeAll(() => {
    fixture = writeKeyFixture(mkdtempSync(join(tmpdir(), 'sluice-fixture-')));
  });
  afterAll(() => rmSync(fixture.root, { recursive: true, force: true }));

  it(`finds every real-shaped key in all ${POSITIVE_CONTEXTS.length} contexts at its line, and nothing else`, async () => {
    const result = await scan({ cwd: fixture.root, git: false });
    const keyFindings = result.findings.filter((finding) => finding.rule !== 'public-env-exposure');
    const expected = fixture.keys.map((key) => ({
      path: key.path,
      line: key.line,
      rule: key.rule,
      hint: `${/^sk-(ant-[a-z]+\d\d|sluice)-/.exec(key.key)![0]}…${key.key.slice(-4)}`,
    }));
    const actual = keyFindings.map(({ path, line, rule, hint }) => ({ path, line, rule, hint }));
    expect(actual.sort(byPath)).toEqual(expected.sort(byPath));
    expect(fixture.keys.length).toBeGreaterThanOrEqual(100);
  });

  it('reports no placeholder or near-miss', async () => {
    const result = await scan({ cwd: fixture.root, git: false, paths: ['negative'] });
    expect(result.findings).toEqual([]);
    expect(negativeLines().length).toBeGreaterThanOrEqual(30);
  });

  it('reports credential variables a front-end bundler would publish, and only those', async () => {
    const result = await scan({ cwd: fixture.root, git: false, paths: ['web'] });
    const actual = result.findings.map(({ rule, path, hint }) => `${rule} ${path} ${hint}`);
    const expected = fixture.exposures.map(({ path, name }) => `public-env-exposure ${path} ${name}`);
    expect(actual.sort()).toEqual(expected.sort());
  });

  it('never prints a whole key: findings carry the prefix and last four characters only', async () => {
    const result = await scan({ cwd: fixture.root, git: false });
    const serialized = JSON.stringify(result);
    for (const key of fixture.keys) expect(serialized).not.toContain(key.key.slice(-20));
  });
});

function byPath(a: { path: string; line: number }, b: { path: string; line: number }): number {
  return a.path.localeCompare(b.path) || a.line - b.line;
}
