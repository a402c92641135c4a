import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runScan } from '../../src/cli/scan.js';
import { startSimulator } from '../../src/simulator/index.js';
import { fakeKey } from '../fixtures/secrets/fixture.js';
import { memoryIo } from '../secrets/memory-io.js';

let dir: string;
const write = (path: string, content: string) => {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), content);
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-scan-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice scan', () => {
  it('exits 0 on a clean tree and 1 with findings, printing prefix and last four only', async () => {
    write('src/ok.ts', 'export const model = "claude-haiku-4-5";\n');
    const clean = memoryIo(dir);
    expect(await runScan([], { git: false }, clean)).toBe(0);
    expect(clean.out()).toContain('no findings in 1 files');

    const key = fakeKey('api', 'cli');
    write('src/leak.ts', `export const key = "${key}";\n`);
    const dirty = memoryIo(dir);
    expect(await runScan([], { git: false }, dirty)).toBe(1);
    expect(dirty.out()).toContain(`src/leak.ts:1:21  anthropic-api-key  sk-ant-api03-…${key.slice(-4)}`);
    expect(dirty.out()).toContain('1 finding in 2 files');
    expect(dirty.out() + dirty.err()).not.toContain(key.slice(13, -4));
  });

  it('writes JSON and SARIF that name the rule and location without the key', async () => {
    const key = fakeKey('virtual', 'cli');
    write('app/.env.production', `SLUICE_KEY=${key}\n`);
    const json = memoryIo(dir);
    expect(await runScan([], { git: false, format: 'json' }, json)).toBe(1);
    const parsed = JSON.parse(json.out());
    expect(parsed.findings).toMatchObject([
      {
        rule: 'sluice-virtual-key',
        path: 'app/.env.production',
        line: 1,
        column: 12,
        hint: `sk-sluice-…${key.slice(-4)}`,
      },
    ]);
    expect(json.out()).not.toContain(key);

    const sarif = memoryIo(dir);
    expect(await runScan([], { git: false, format: 'sarif' }, sarif)).toBe(1);
    const log = JSON.parse(sarif.out());
    expect(log.version).toBe('2.1.0');
    const [result] = log.runs[0].results;
    expect(result.ruleId).toBe('sluice-virtual-key');
    expect(log.runs[0].tool.driver.rules[result.ruleIndex].id).toBe('sluice-virtual-key');
    expect(result.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: 'app/.env.production' },
      region: { startLine: 1, startColumn: 12 },
    });
    expect(sarif.out()).not.toContain(key);
  });

  it('accepts current findings with --update-baseline, then reports only new ones', async () => {
    write('old.txt', fakeKey('admin', 'old'));
    expect(await runScan([], { git: false, updateBaseline: true }, memoryIo(dir))).toBe(0);
    const baseline = JSON.parse(readFileSync(join(dir, '.sluice-baseline.json'), 'utf8'));
    expect(baseline.findings).toHaveLength(1);
    expect(JSON.stringify(baseline)).not.toContain(fakeKey('admin', 'old'));

    const again = memoryIo(dir);
    expect(await runScan([], { git: false }, again)).toBe(0);
    expect(again.out()).toContain('1 accepted by the baseline');

    write('new.txt', fakeKey('admin', 'new'));
    const later = memoryIo(dir);
    expect(await runScan([], { git: false }, later)).toBe(1);
    expect(later.out()).toContain('new.txt');
    expect(later.out()).not.toContain('old.txt');
  });

  it('honours --ignore and scan.ignore from sluice.yaml', async () => {
    write('fixtures/a.txt', fakeKey('api', 'ignored-a'));
    write('vendor/b.txt', fakeKey('api', 'ignored-b'));
    write('sluice.yaml', 'scan:\n  ignore: ["fixtures/"]\n');
    expect(await runScan([], { git: false, ignore: ['vendor/**'] }, memoryIo(dir))).toBe(0);
    expect(await runScan([], { git: false }, memoryIo(dir))).toBe(1);
  });

  it('exits 2 on an error: --staged outside a repository, a path that does not exist', async () => {
    const staged = memoryIo(dir);
    expect(await runScan([], { staged: true }, staged)).toBe(2);
    expect(staged.err()).toContain('--staged needs a git repository');
    const missing = memoryIo(dir);
    expect(await runScan(['nope'], { git: false }, missing)).toBe(2);
    expect(missing.err()).toContain('nope');
  });

  it('--verify asks the configured upstream: live for an accepted key, dead for a revoked one', async () => {
    const live = fakeKey('api', 'verify-live');
    const dead = fakeKey('api', 'verify-dead');
    const simulator = await startSimulator({ port: 0, apiKeys: [live] });
    try {
      write('.env', `SLUICE_UPSTREAM_URL=${simulator.url}\n`);
      write('a.txt', `${live}\n${dead}\n${live}\n`);
      write('b.txt', fakeKey('virtual', 'verify'));
      const io = memoryIo(dir, {});
      expect(await runScan([], { git: false, verify: true, format: 'json' }, io)).toBe(1);
      const findings = JSON.parse(io.out()).findings as Array<{
        path: string;
        line: number;
        verification: string;
      }>;
      expect(findings.map(({ path, line, verification }) => [path, line, verification])).toEqual([
        ['a.txt', 1, 'live'],
        ['a.txt', 2, 'dead'],
        ['a.txt', 3, 'live'],
        ['b.txt', 1, 'unknown'],
      ]);
      // One request per distinct Anthropic key; the virtual key is never sent.
      expect(simulator.counters().byPath).toEqual({ 'GET /v1/models': 2 });
    } finally {
      await simulator.close();
    }
  });
});
