import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scan } from '../src/secrets/scan.js';

const run = promisify(execFile);
const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const work = mkdtempSync(join(tmpdir(), 'sluice-package-'));
// Packed from a copy, so that the build `npm pack` runs never touches the dist/ other tests use.
const project = join(work, 'project');
const consumer = join(work, 'consumer');
let files: string[] = [];
let tarball = '';

beforeAll(async () => {
  for (const entry of [
    'package.json',
    'README.md',
    'LICENSE',
    'bin',
    'catalog',
    'docs',
    'src',
    'tsconfig.json',
    'tsconfig.build.json',
  ])
    cpSync(join(root, entry), join(project, entry), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: project,
    timeout: 180_000,
  });
  // npm prints the build's own output before the JSON.
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  files = packed!.files.map((file) => file.path);
  tarball = join(work, packed!.filename);
}, 200_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the npm package', () => {
  it('ships the build with type declarations, a licence, and nothing of the source tree', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const path of [manifest.main, manifest.types, manifest.bin.sluice, 'LICENSE', 'README.md'])
      expect(files).toContain(path);
    expect(files).toContain('dist/cli/main.js');
    expect(files.filter((path) => path.endsWith('.d.ts')).length).toBeGreaterThan(50);
    expect(files.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(files.filter((path) => /^(src|test|bench)\//.test(path))).toEqual([]);
    // The routing evaluation is a development script, run from src/ with tsx.
    expect(files.filter((path) => path.startsWith('dist/routing/eval'))).toEqual([]);
    // The README's links work where the package is read: on the registry and in node_modules.
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const [, target] of readme.matchAll(/\]\(((?!https?:)[^)#\s]+)/g)) expect(files).toContain(target);
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(manifest.license).toBe('MIT');
  });

  it('installs into an empty project whose TypeScript compiles against its declarations', async () => {
    const typesNode = JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8'));
    cpSync(join(root, 'test/fixtures/package-consumer'), consumer, { recursive: true });
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--prefer-offline',
        '--no-save',
        tarball,
        `@types/node@${typesNode.version}`,
      ],
      { cwd: consumer, timeout: 120_000 },
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', consumer], { timeout: 120_000 }).catch(
      (error: { stdout: string; code: number }) => error,
    );
    expect(result.stdout).toBe('');
    // What the package brings into a project passes the project's own scan.
    const installed = await scan({ cwd: consumer, paths: ['node_modules/sluice'], git: false });
    expect(installed.findings).toEqual([]);
    expect(installed.files).toBeGreaterThan(100);
  }, 260_000);
});
