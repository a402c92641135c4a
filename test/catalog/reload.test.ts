import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog, CatalogError } from '../../src/catalog/catalog.js';
import { costOf } from '../../src/catalog/cost.js';
import { installCatalogFile } from '../../src/catalog/install.js';
import { formatUsdExact } from '../../src/catalog/money.js';
import { watchCatalog } from '../../src/catalog/watch.js';
import { runCatalogUpdate } from '../../src/cli/catalog-update.js';
import { startStack } from '../helpers/stack.js';
import { memoryIo } from '../secrets/memory-io.js';
import { documentText, NEW_MODEL, newerDocument, shipped } from './helpers.js';

const usage = {
  input_tokens: 1000,
  output_tokens: 500,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};
const at = new Date('2026-11-27T12:00:00Z');

async function until<T>(read: () => T | Promise<T>, done: (value: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Catalog.replace', () => {
  it('puts a new document in force in place, and prices already cached are recomputed', () => {
    const catalog = new Catalog({}, shipped());
    const before = costOf(usage, NEW_MODEL, at, { catalog, track: false });
    expect(before.priced).toBe(false);
    catalog.replace(newerDocument());
    expect(catalog.generation).toBe(1);
    expect(catalog.model(NEW_MODEL)?.id).toBe(NEW_MODEL);
    const after = costOf(usage, NEW_MODEL, at, { catalog, track: false });
    // 1,000 × $1 + 500 × $2 per million tokens = $0.002.
    expect(after).toMatchObject({ priced: true, pico: 2_000_000_000n });
  });

  it('refuses a document that does not make a catalog, keeping the one in force', () => {
    const catalog = new Catalog({}, shipped());
    const broken = newerDocument();
    broken.prices.push({ ...broken.prices.at(-1)!, model: 'claude-nowhere', from: '2026-02-01' });
    expect(() => catalog.replace(broken)).toThrow(CatalogError);
    expect(catalog.version).toBe(shipped().version);
    expect(catalog.model(NEW_MODEL)).toBeUndefined();
    expect(catalog.generation).toBe(0);
  });
});

describe('watchCatalog', () => {
  it('swaps in an installed catalog, and reports a bad file by name and field without using it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
    const file = join(dir, 'sluice-catalog.json');
    const catalog = new Catalog({}, shipped());
    const problems: string[] = [];
    const reloads: string[] = [];
    const watch = watchCatalog(catalog, file, {
      onProblem: (m) => problems.push(m),
      onReload: (version) => reloads.push(version),
    });
    try {
      const next = newerDocument();
      installCatalogFile(file, documentText(next));
      await until(
        () => catalog.version,
        (v) => v === next.version,
      );
      expect(catalog.version).toBe(next.version);
      expect(reloads).toEqual([next.version]);
      expect(readdirSync(dir)).toEqual(['sluice-catalog.json']); // no temporary file left behind

      // Written in place, not through `catalog update`: a broken file must not be put in force.
      const bad = { ...newerDocument(`${shipped().version}.2`), defaultTier: 7 };
      writeFileSync(file, JSON.stringify(bad));
      await until(
        () => problems.length,
        (n) => n > 0,
      );
      expect(problems[0]).toContain(file);
      expect(problems[0]).toContain('defaultTier');
      expect(catalog.version).toBe(next.version);
    } finally {
      watch.close();
    }
  });
});

describe('a running gateway', () => {
  it('prices a model from an installed catalog without a restart, and reports the version in force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-reload-'));
    const file = join(dir, 'sluice-catalog.json');
    const next = newerDocument();
    // The upstream already serves the new model; the gateway has never heard of it.
    const stack = await startStack({
      simulator: { catalog: new Catalog({}, next) },
      env: { SLUICE_CATALOG_FILE: file },
    });
    const admin = { 'x-sluice-admin-token': 'admin-token-for-tests-0123456789' };
    const version = async () =>
      (
        (await (await fetch(`${stack.gateway.url}/admin/catalog`, { headers: admin })).json()) as {
          version: string;
        }
      ).version;
    const ask = async () => {
      const response = await fetch(`${stack.gateway.url}/v1/messages`, {
        method: 'POST',
        headers: {
          'x-api-key': stack.key,
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          model: NEW_MODEL,
          max_tokens: 40,
          messages: [{ role: 'user', content: 'hello' }],
        }),
      });
      const body = (await response.json()) as { usage: { input_tokens: number; output_tokens: number } };
      expect(response.status).toBe(200);
      const { input_tokens, output_tokens } = body.usage;
      return {
        cost: response.headers.get('x-sluice-cost-usd'),
        // $1 and $2 per million tokens: 1e6 and 2e6 pico-dollars a token.
        atNewPrice: formatUsdExact(BigInt(input_tokens) * 1_000_000n + BigInt(output_tokens) * 2_000_000n),
      };
    };
    try {
      expect(await version()).toBe(shipped().version);
      const before = await ask();
      expect(before.cost).not.toBe(before.atNewPrice); // counted at its family's worst case

      installCatalogFile(file, documentText(next));
      expect(await until(version, (v) => v === next.version)).toBe(next.version);
      const after = await ask();
      expect(after.cost).toBe(after.atNewPrice);

      const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
      expect(metrics).toContain(`sluice_catalog_info{version="${next.version}"} 1`);
      expect(metrics).not.toContain(`sluice_catalog_info{version="${shipped().version}"}`);
      expect(stack.logs.join('')).toContain('catalog_reloaded');
      expect(readFileSync(file, 'utf8')).toBe(documentText(next));
    } finally {
      await stack.close();
    }
  });

  it('puts a catalog installed on another host in force through the store and the change feed', async () => {
    const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-shared-')), 'sluice.db')}`;
    const next = newerDocument();
    const simulator = { catalog: new Catalog({}, next) };
    // Two instances on one database, each reading its own catalog file, as on two hosts.
    const fileOf = (label: string) =>
      join(mkdtempSync(join(tmpdir(), `sluice-${label}-`)), 'sluice-catalog.json');
    const here = fileOf('here');
    const there = fileOf('there');
    const a = await startStack({ databaseUrl, simulator, env: { SLUICE_CATALOG_FILE: here } });
    const b = await startStack({
      databaseUrl,
      simulator,
      keyName: 'prod-backend-v2',
      env: { SLUICE_CATALOG_FILE: there },
    });
    const admin = { 'x-sluice-admin-token': 'admin-token-for-tests-0123456789' };
    const versionOf = async (stack: typeof a) =>
      (
        (await (await fetch(`${stack.gateway.url}/admin/catalog`, { headers: admin })).json()) as {
          version: string;
        }
      ).version;
    try {
      const source = join(mkdtempSync(join(tmpdir(), 'sluice-source-')), 'catalog.json');
      writeFileSync(source, documentText(next));
      const io = memoryIo(mkdtempSync(join(tmpdir(), 'sluice-cli-')), {
        SLUICE_DATABASE_URL: databaseUrl,
        SLUICE_CATALOG_FILE: here,
      });
      const started = Date.now();
      expect(await runCatalogUpdate({ from: source }, io)).toBe(0);
      expect(io.out()).toContain('every running gateway puts it in force within a second');
      // The other host's file was never touched: the store and the feed brought it.
      const seen = await until(
        () => versionOf(b),
        (v) => v === next.version,
      );
      expect(seen).toBe(next.version);
      expect(Date.now() - started).toBeLessThan(1500);
      expect(readdirSync(join(there, '..'))).toEqual([]);
      expect(
        await until(
          () => versionOf(a),
          (v) => v === next.version,
        ),
      ).toBe(next.version);
      const response = await b
        .sdk()
        .messages.create({
          model: NEW_MODEL,
          max_tokens: 40,
          messages: [{ role: 'user', content: 'hello' }],
        })
        .withResponse();
      const { input_tokens, output_tokens } = response.data.usage;
      expect(response.response.headers.get('x-sluice-cost-usd')).toBe(
        formatUsdExact(BigInt(input_tokens) * 1_000_000n + BigInt(output_tokens) * 2_000_000n),
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});
