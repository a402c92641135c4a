import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { git } from './git.js';

export class HookError extends Error {}

const BEGIN = '# >>> sluice: block commits that add keys (managed by `sluice hooks`) >>>';
const END = '# <<< sluice <<<';
const SHELL_SHEBANG = /^#!.*\b(sh|bash|dash|zsh|ksh)\b/;

/** This installation's own entry point, recorded in the hook as a fallback. */
export const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

export interface HookTarget {
  /** The file the block lives in. */
  path: string;
  /** True when husky manages the hooks (core.hooksPath = .husky or .husky/_). */
  husky: boolean;
}

/**
 * Where the pre-commit hook goes: git's hooks directory, which honours core.hooksPath. Husky's
 * generated `.husky/_` directory is rewritten by husky, so its user-owned `.husky/pre-commit` is used.
 */
export async function preCommitHookTarget(cwd: string): Promise<HookTarget> {
  let hooksDir: string;
  try {
    hooksDir = resolve(cwd, (await git(cwd, ['rev-parse', '--git-path', 'hooks'])).toString().trim());
  } catch {
    throw new HookError('not inside a git repository');
  }
  if (basename(hooksDir) === '_' && basename(dirname(hooksDir)) === '.husky') {
    return { path: join(dirname(hooksDir), 'pre-commit'), husky: true };
  }
  return { path: join(hooksDir, 'pre-commit'), husky: basename(hooksDir) === '.husky' };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * What the hook prints when sluice has gone: sluice is not on the npm registry, so the way back is
 * the project's own install, or the checkout sluice came from.
 */
export const NOT_FOUND_HINT =
  'sluice: not found; run npm install if the project depends on it, or npm install --save-dev <path to a sluice checkout>; git commit --no-verify skips this check';

/**
 * The hook finds sluice at commit time: the project's own dependency first, then the copy that
 * installed the hook, then one on PATH. A missing sluice blocks the commit rather than skip the scan.
 */
export function hookBlock(sluiceBin = SLUICE_BIN): string {
  return [
    BEGIN,
    'sluice_run() {',
    '  if [ -x ./node_modules/.bin/sluice ]; then ./node_modules/.bin/sluice "$@"',
    `  elif [ -f ${shellQuote(sluiceBin)} ]; then node ${shellQuote(sluiceBin)} "$@"`,
    '  elif command -v sluice >/dev/null 2>&1; then sluice "$@"',
    `  else echo ${shellQuote(NOT_FOUND_HINT)} >&2; return 2`,
    '  fi',
    '}',
    'sluice_run scan --staged || exit $?',
    END,
  ].join('\n');
}

/** A file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function withoutBlock(text: string): string {
  const start = text.indexOf(BEGIN);
  if (start === -1) return text;
  const end = text.indexOf(END, start);
  if (end === -1) throw new HookError('the sluice block in the hook has no end marker; fix the hook by hand');
  return text.slice(0, start) + text.slice(end + END.length).replace(/^\n/, '');
}

export type InstallAction = 'created' | 'added' | 'updated' | 'unchanged';

/**
 * Adds the scan to the pre-commit hook. An existing hook is kept: the block goes right after its
 * shebang, so it runs first and a later `exit 0` in the hook cannot skip it. Idempotent.
 */
export async function installHook(
  cwd: string,
  sluiceBin = SLUICE_BIN,
): Promise<{ path: string; action: InstallAction }> {
  const { path } = await preCommitHookTarget(cwd);
  const block = hookBlock(sluiceBin);
  const existing = await readIfExists(path);
  let next: string;
  let action: InstallAction;
  if (existing === undefined) {
    next = `#!/bin/sh\n${block}\n`;
    action = 'created';
  } else {
    const firstLine = existing.split('\n', 1)[0]!;
    if (firstLine.startsWith('#!') && !SHELL_SHEBANG.test(firstLine)) {
      throw new HookError(
        `${path} is not a shell script (${firstLine}); add \`sluice scan --staged\` to it by hand`,
      );
    }
    const hadBlock = existing.includes(BEGIN);
    const rest = withoutBlock(existing);
    const shebang = rest.startsWith('#!') ? `${rest.split('\n', 1)[0]}\n` : '';
    next = `${shebang}${block}\n${rest.slice(shebang.length)}`;
    action = next === existing ? 'unchanged' : hadBlock ? 'updated' : 'added';
  }
  if (action !== 'unchanged') {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, next);
  }
  await chmod(path, 0o755);
  return { path, action };
}

/** Removes the block; deletes the hook if nothing but a shebang is left. */
export async function uninstallHook(
  cwd: string,
): Promise<{ path: string; action: 'removed' | 'deleted' | 'absent' }> {
  const { path } = await preCommitHookTarget(cwd);
  const existing = await readIfExists(path);
  if (existing === undefined || !existing.includes(BEGIN)) return { path, action: 'absent' };
  const rest = withoutBlock(existing);
  if (rest.replace(/^#!.*\n?/, '').trim() === '') {
    await rm(path);
    return { path, action: 'deleted' };
  }
  await writeFile(path, rest);
  return { path, action: 'removed' };
}

export async function isHookInstalled(cwd: string): Promise<boolean> {
  const { path } = await preCommitHookTarget(cwd);
  return (await readIfExists(path))?.includes(BEGIN) ?? false;
}
