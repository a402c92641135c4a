import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runHooksInstall, runHooksUninstall } from '../../src/cli/hooks.js';
import { hookBlock, isHookInstalled, NOT_FOUND_HINT } from '../../src/secrets/hooks.js';
import { fakeKey } from '../fixtures/secrets/fixture.js';
import { memoryIo } from '../secrets/memory-io.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
const commit = (message: string) =>
  spawnSync('git', ['commit', '-m', message], { cwd: repo, encoding: 'utf8' });

beforeAll(() => {
  // The hook runs the real CLI (bin/sluice.js imports dist/); other modules' type errors must not
  // stop the build of this one, so only the emitted files are checked.
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: projectRoot, encoding: 'utf8' });
  expect(existsSync(join(projectRoot, 'dist/cli/scan.js'))).toBe(true);
}, 120_000);

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'sluice-hooks-'));
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 'test@example.com');
  git('config', 'commit.gpgsign', 'false');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('the installed pre-commit hook', () => {
  it('blocks a commit that adds a key and lets a clean one through', async () => {
    const io = memoryIo(repo);
    expect(await runHooksInstall(io)).toBe(0);

    writeFileSync(join(repo, 'clean.ts'), 'export const model = "claude-haiku-4-5";\n');
    git('add', 'clean.ts');
    const clean = commit('clean');
    expect(clean.status).toBe(0);

    const key = fakeKey('api', 'hook');
    writeFileSync(join(repo, 'leak.ts'), `export const key = "${key}";\n`);
    git('add', 'leak.ts');
    const leak = commit('leak');
    expect(leak.status).not.toBe(0);
    expect(leak.stdout + leak.stderr).toContain(
      `leak.ts:1:21  anthropic-api-key  sk-ant-api03-…${key.slice(-4)}`,
    );
    expect(leak.stdout + leak.stderr).not.toContain(key);
    expect(git('log', '--format=%s').trim().split('\n')).toEqual(['clean']);
  });

  it('refuses the commit when sluice is gone, pointing at a way back that exists', () => {
    writeFileSync(join(repo, 'hook.sh'), `#!/bin/sh\n${hookBlock(join(repo, 'gone', 'sluice.js'))}\n`);
    const result = spawnSync('sh', ['hook.sh'], {
      cwd: repo,
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
    });
    expect([result.status, result.stderr]).toEqual([2, `${NOT_FOUND_HINT}\n`]);
    // Sluice is not on the npm registry: installing it by name would fetch nothing, or someone else's package.
    expect(NOT_FOUND_HINT).not.toMatch(/npm (i|install) (-D |--save-dev )?sluice\b/);
    expect(NOT_FOUND_HINT).toContain('--no-verify');
  });

  it('is idempotent, keeps an existing hook, and uninstalls back to it', async () => {
    const hook = join(repo, '.git/hooks/pre-commit');
    const original = '#!/bin/sh\necho existing-hook-ran\nexit 0\n';
    writeFileSync(hook, original);
    chmodSync(hook, 0o755);
    const io = memoryIo(repo);
    await runHooksInstall(io);
    const once = readFileSync(hook, 'utf8');
    await runHooksInstall(io);
    expect(readFileSync(hook, 'utf8')).toBe(once);
    expect(io.out()).toContain('already runs the scan');
    expect(once).toContain('echo existing-hook-ran');
    // The scan comes before the existing hook's `exit 0`, so it cannot be skipped.
    expect(once.indexOf('scan --staged')).toBeLessThan(once.indexOf('exit 0'));

    writeFileSync(join(repo, 'leak.txt'), fakeKey('admin', 'existing'));
    git('add', 'leak.txt');
    expect(commit('leak').status).not.toBe(0);

    await runHooksUninstall(io);
    expect(readFileSync(hook, 'utf8')).toBe(original);
    expect(await isHookInstalled(repo)).toBe(false);
  });

  it('goes into husky’s pre-commit file when core.hooksPath points at husky', async () => {
    mkdirSync(join(repo, '.husky/_'), { recursive: true });
    // husky 9 writes a wrapper in .husky/_ that runs the user's .husky/pre-commit.
    writeFileSync(join(repo, '.husky/_/pre-commit'), '#!/usr/bin/env sh\nsh -e .husky/pre-commit\n');
    chmodSync(join(repo, '.husky/_/pre-commit'), 0o755);
    writeFileSync(join(repo, '.husky/pre-commit'), 'npm test --if-present\n');
    git('config', 'core.hooksPath', '.husky/_');
    const io = memoryIo(repo);
    expect(await runHooksInstall(io)).toBe(0);
    expect(io.out()).toContain(join(repo, '.husky/pre-commit'));
    const userHook = readFileSync(join(repo, '.husky/pre-commit'), 'utf8');
    expect(userHook).toContain('scan --staged');
    expect(userHook).toContain('npm test --if-present');
    expect(readFileSync(join(repo, '.husky/_/pre-commit'), 'utf8')).not.toContain('sluice');

    writeFileSync(join(repo, 'leak.txt'), fakeKey('oat', 'husky'));
    git('add', 'leak.txt');
    expect(commit('leak').status).not.toBe(0);
  });

  it('deletes a hook it created when uninstalled, and refuses to edit a non-shell hook', async () => {
    const io = memoryIo(repo);
    await runHooksInstall(io);
    await runHooksUninstall(io);
    expect(existsSync(join(repo, '.git/hooks/pre-commit'))).toBe(false);

    writeFileSync(join(repo, '.git/hooks/pre-commit'), '#!/usr/bin/env python3\nprint("hi")\n');
    expect(await runHooksInstall(io)).toBe(2);
    expect(io.err()).toContain('not a shell script');
  });
});
