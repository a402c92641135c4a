import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT_USAGE, run } from '../../src/cli/index.js';
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

describe('sluice scan: paths, scope and exit codes', () => {
  const gitIn = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });
  const initRepo = (cwd: string) => {
    gitIn(cwd, 'init', '-q', '-b', 'main');
  };

  it('scans an absolute path outside the working directory, naming files absolutely', async () => {
    const key = fakeKey('api', 'absolute');
    write('elsewhere/app.js', `k = "${key}"\n`);
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-scan-cwd-'));
    try {
      for (const options of [{ git: false }, { all: true }, {}]) {
        const io = memoryIo(cwd);
        expect(await runScan([join(dir, 'elsewhere')], options, io), JSON.stringify(options)).toBe(1);
        expect(io.out()).toContain(`${join(dir, 'elsewhere', 'app.js')}:1:6  anthropic-api-key`);
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('asks the repository that holds an absolute path, even from inside another repository', async () => {
    const key = fakeKey('api', 'other-repo');
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-scan-repo-'));
    try {
      initRepo(cwd);
      initRepo(dir);
      write('tracked.js', `k = "${key}"\n`);
      write('.gitignore', 'ignored.js\n');
      write('ignored.js', `k = "${key}"\n`);
      const io = memoryIo(cwd);
      expect(await runScan([dir], {}, io)).toBe(1);
      expect(io.out()).toContain(join(dir, 'tracked.js'));
      expect(io.out()).not.toContain('ignored.js');
      // And a path outside any repository is walked.
      const plain = mkdtempSync(join(tmpdir(), 'sluice-scan-plain-'));
      writeFileSync(join(plain, 'a.txt'), key);
      const outside = memoryIo(cwd);
      expect(await runScan([plain], {}, outside)).toBe(1);
      rmSync(plain, { recursive: true, force: true });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('exits 2 for a path that does not exist inside a repository, not "no findings"', async () => {
    initRepo(dir);
    write('ok.js', 'ok\n');
    const io = memoryIo(dir);
    expect(await runScan(['src/typo'], {}, io)).toBe(2);
    expect(io.err()).toContain('src/typo: no such file or directory');
    expect(io.out()).toBe('');
  });

  it('covers the current directory and below, as documented, with paths relative to it', async () => {
    initRepo(dir);
    write('top.js', `k = "${fakeKey('api', 'top')}"\n`);
    write('sub/inner.js', `k = "${fakeKey('api', 'inner')}"\n`);
    const io = memoryIo(join(dir, 'sub'));
    expect(await runScan([], { format: 'json' }, io)).toBe(1);
    expect(JSON.parse(io.out()).findings.map((f: { path: string }) => f.path)).toEqual(['inner.js']);
  });

  it('takes --baseline /dev/null as an empty baseline, whatever the default file accepts', async () => {
    write('old.txt', fakeKey('admin', 'dev-null'));
    expect(await runScan([], { git: false, updateBaseline: true }, memoryIo(dir))).toBe(0);
    expect(await runScan([], { git: false }, memoryIo(dir))).toBe(0);
    const io = memoryIo(dir);
    expect(await runScan([], { git: false, baseline: '/dev/null' }, io)).toBe(1);
    expect(io.err()).toBe('');
    write('bad.json', '{not json');
    const bad = memoryIo(dir);
    expect(await runScan([], { git: false, baseline: 'bad.json' }, bad)).toBe(2);
    expect(bad.err()).toContain('bad.json: not JSON, so not a sluice baseline');
  });

  it('exits 2, not 1, for an unknown option or a bad option value', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await run(['node', 'sluice', 'scan', '--bogus'])).toBe(EXIT_USAGE);
      expect(await run(['node', 'sluice', 'scan', '--format', 'xml'])).toBe(EXIT_USAGE);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain("unknown option '--bogus'");
      expect(await run(['node', 'sluice', '--version'])).toBe(0);
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  });
});
