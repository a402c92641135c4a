import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { repositoryRoot } from '../secrets/git.js';
import { installHook, readIfExists } from '../secrets/hooks.js';
import { ENV_EXAMPLE, SLUICE_YAML, withGitignoreEntries } from '../secrets/setup-files.js';
import { type CommandIo, EXIT_CLEAN, EXIT_ERROR } from './scan.js';

export interface InitOptions {
  force?: boolean;
  /** true: install the pre-commit hook; false: do not; undefined: ask on a terminal. */
  hooks?: boolean;
}

export interface InitIo extends CommandIo {
  /** Asks a yes/no question; only called when stdin is a terminal. */
  confirm?: (question: string) => Promise<boolean>;
}

/** Writes a file unless it exists; `--force` overwrites. */
async function writeNew(io: CommandIo, name: string, content: string, force: boolean): Promise<void> {
  const path = join(io.cwd, name);
  const existing = await readIfExists(path);
  if (existing !== undefined && !force) {
    io.stdout.write(`kept     ${name} (exists; --force overwrites it)\n`);
    return;
  }
  await writeFile(path, content);
  io.stdout.write(`${existing === undefined ? 'wrote' : 'replaced'}    ${name}\n`);
}

/** `sluice init`: a safe starting set-up. Returns the exit code. */
export async function runInit(options: InitOptions, io: InitIo): Promise<number> {
  try {
    await writeNew(io, '.env.example', ENV_EXAMPLE, options.force ?? false);
    await writeNew(io, 'sluice.yaml', SLUICE_YAML, options.force ?? false);

    const gitignorePath = join(io.cwd, '.gitignore');
    const { text, added } = withGitignoreEntries(await readIfExists(gitignorePath));
    if (added.length > 0) {
      await writeFile(gitignorePath, text);
      io.stdout.write(`updated  .gitignore (+ ${added.join(' ')})\n`);
    } else io.stdout.write('kept     .gitignore (already ignores .env files)\n');

    if ((await repositoryRoot(io.cwd)) === undefined) {
      io.stdout.write(
        'skipped  pre-commit hook (not a git repository; run `sluice hooks install` after `git init`)\n',
      );
    } else {
      let install = options.hooks;
      if (install === undefined && io.confirm) {
        install = await io.confirm('Install a pre-commit hook that refuses commits adding keys? [Y/n] ');
      }
      if (install) {
        const { path, action } = await installHook(io.cwd);
        io.stdout.write(
          `${action === 'unchanged' ? 'kept    ' : 'hooked  '} ${path} (sluice scan --staged)\n`,
        );
      } else io.stdout.write('skipped  pre-commit hook (`sluice hooks install` adds it)\n');
    }
    io.stdout.write('\nnext: cp .env.example .env, fill in the keys, then run `sluice doctor`\n');
    return EXIT_CLEAN;
  } catch (error) {
    io.stderr.write(`sluice init: ${(error as Error).message}\n`);
    return EXIT_ERROR;
  }
}

async function askOnTerminal(question: string): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = (await readline.question(question)).trim().toLowerCase();
    return answer === '' || answer === 'y' || answer === 'yes';
  } finally {
    readline.close();
  }
}

export function register(program: Command): void {
  program
    .command('init')
    .description('write .env.example and sluice.yaml, ignore .env files in git, offer the pre-commit hook')
    .option('--force', 'overwrite .env.example and sluice.yaml if they exist')
    .option('--hooks', 'install the pre-commit hook without asking')
    .option('--no-hooks', 'do not install the pre-commit hook')
    .action(async (options: InitOptions) => {
      process.exitCode = await runInit(options, {
        cwd: process.cwd(),
        stdout: process.stdout,
        stderr: process.stderr,
        confirm: process.stdin.isTTY ? askOnTerminal : undefined,
      });
    });
}
