import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBaseline, writeBaseline } from '../../src/secrets/baseline.js';
import { scan } from '../../src/secrets/scan.js';
import { readScanSettings } from '../../src/secrets/scan-settings.js';
import { fakeKey } from '../fixtures/secrets/fixture.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
const write = (path: string, content: string) => {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), content);
};

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'sluice-git-'));
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 'test@example.com');
  git('config', 'commit.gpgsign', 'false');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('scan --staged', () => {
  it('sees what is staged and not what is only in the working tree', async () => {
    const stagedKey = fakeKey('api', 'staged');
    const worktreeKey = fakeKey('admin', 'worktree');
    write('app.js', `const key = "${stagedKey}";\n`);
    git('add', 'app.js');
    // The working tree is then cleaned and a different key written only there.
    write('app.js', 'const key = process.env.KEY;\n');
    write('other.js', `const admin = "${worktreeKey}";\n`);
    const staged = await scan({ cwd: repo, mode: 'staged' });
    expect(staged.findings.map(({ path, line, hint }) => ({ path, line, hint }))).toEqual([
      { path: 'app.js', line: 1, hint: `sk-ant-api03-…${stagedKey.slice(-4)}` },
    ]);

    // The reverse: the key staged is gone from the index, the working tree still has it.
    git('add', 'app.js');
    write('app.js', `const key = "${stagedKey}";\n`);
    expect((await scan({ cwd: repo, mode: 'staged' })).findings).toEqual([]);
  });

  it('reports a staged .env file', async () => {
    write('.env', 'ANTHROPIC_DEFAULT_MODEL=claude-haiku-4-5\n');
    git('add', '.env');
    const result = await scan({ cwd: repo, mode: 'staged' });
    expect(result.findings.map((f) => [f.rule, f.path])).toEqual([['env-file-committable', '.env']]);
  });
});

describe('scan --history', () => {
  it('finds a key that was added and later deleted, with commit, path and line', async () => {
    const key = fakeKey('api', 'history');
    write('src/config.ts', 'export const a = 1;\nexport const b = 2;\n');
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    write('src/config.ts', `export const a = 1;\nexport const b = 2;\nexport const key = '${key}';\n`);
    git('commit', '-q', '-am', 'add key');
    const addedIn = git('rev-parse', 'HEAD').trim();
    write('src/config.ts', 'export const a = 1;\nexport const b = 2;\n');
    git('commit', '-q', '-am', 'remove key');

    expect((await scan({ cwd: repo })).findings).toEqual([]);
    const history = await scan({ cwd: repo, mode: 'history' });
    expect(history.findings.map(({ commit, path, line, hint }) => ({ commit, path, line, hint }))).toEqual([
      { commit: addedIn, path: 'src/config.ts', line: 3, hint: `sk-ant-api03-…${key.slice(-4)}` },
    ]);
  });

  it('is not fooled by an added line that itself starts with +++', async () => {
    const key = fakeKey('oat', 'plus');
    write('notes.txt', `++ b/fake\n${key}\n`);
    git('add', '.');
    git('commit', '-q', '-m', 'notes');
    const history = await scan({ cwd: repo, mode: 'history' });
    expect(history.findings.map((f) => [f.path, f.line])).toEqual([['notes.txt', 2]]);
  });
});

describe('scan of files in a repository', () => {
  it('scans tracked and untracked files, skips ignored ones unless --all, and flags committable .env files', async () => {
    const tracked = fakeKey('api', 'tracked');
    const untracked = fakeKey('api', 'untracked');
    const ignored = fakeKey('api', 'ignored');
    write('.gitignore', 'secret/\n');
    write('a.txt', tracked);
    git('add', '.');
    git('commit', '-q', '-m', 'a');
    write('b.txt', untracked);
    write('secret/c.txt', ignored);
    write('.env.local', 'X=1\n');

    const normal = await scan({ cwd: repo });
    expect(normal.findings.map((f) => [f.rule, f.path])).toEqual([
      ['env-file-committable', '.env.local'],
      ['anthropic-api-key', 'a.txt'],
      ['anthropic-api-key', 'b.txt'],
    ]);
    const all = await scan({ cwd: repo, all: true });
    expect(all.findings.map((f) => f.path)).toContain('secret/c.txt');
  });

  it('accepts baselined findings and configured ignore patterns', async () => {
    write('known.txt', fakeKey('api', 'known'));
    write('fixtures/sample.txt', fakeKey('api', 'fixture'));
    write('sluice.yaml', 'scan:\n  ignore:\n    - fixtures/**\n');
    const settings = await readScanSettings(repo);
    const first = await scan({ cwd: repo, ignore: settings.ignore });
    expect(first.findings.map((f) => f.path)).toEqual(['known.txt']);

    const baselinePath = join(repo, '.sluice-baseline.json');
    await writeBaseline(baselinePath, first.findings);
    const baseline = await readBaseline(baselinePath);
    const second = await scan({ cwd: repo, ignore: settings.ignore, baseline });
    expect(second.findings).toEqual([]);
    expect(second.baselined).toBe(1);

    // A new key in the same file is not covered by the old fingerprint.
    write('known.txt', `${fakeKey('api', 'known')}\n${fakeKey('api', 'new')}\n`);
    const third = await scan({ cwd: repo, ignore: settings.ignore, baseline });
    expect(third.findings.map((f) => [f.path, f.line])).toEqual([['known.txt', 2]]);
  });
});
