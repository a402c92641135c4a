import type { Command } from 'commander';
import { installHook, uninstallHook } from '../secrets/hooks.js';
import { type CommandIo, EXIT_CLEAN, EXIT_ERROR } from './scan.js';

const INSTALL_MESSAGES = {
  created: 'created the pre-commit hook',
  added: 'added the scan to the existing pre-commit hook',
  updated: 'updated the scan in the pre-commit hook',
  unchanged: 'the pre-commit hook already runs the scan',
};

export async function runHooksInstall(io: CommandIo): Promise<number> {
  try {
    const { path, action } = await installHook(io.cwd);
    io.stdout.write(
      `${INSTALL_MESSAGES[action]}: ${path}\ncommits that add keys are now refused (sluice scan --staged)\n`,
    );
    return EXIT_CLEAN;
  } catch (error) {
    io.stderr.write(`sluice hooks install: ${(error as Error).message}\n`);
    return EXIT_ERROR;
  }
}

export async function runHooksUninstall(io: CommandIo): Promise<number> {
  try {
    const { path, action } = await uninstallHook(io.cwd);
    const message =
      action === 'absent'
        ? `no sluice scan in ${path}`
        : action === 'deleted'
          ? `deleted ${path}`
          : `removed the scan from ${path}`;
    io.stdout.write(`${message}\n`);
    return EXIT_CLEAN;
  } catch (error) {
    io.stderr.write(`sluice hooks uninstall: ${(error as Error).message}\n`);
    return EXIT_ERROR;
  }
}

export function register(program: Command): void {
  const hooks = program.command('hooks').description('git pre-commit hook that refuses commits adding keys');
  const io = (): CommandIo => ({ cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr });
  hooks
    .command('install')
    .description(
      'add `sluice scan --staged` to the pre-commit hook (keeps an existing hook; honours core.hooksPath)',
    )
    .action(async () => {
      process.exitCode = await runHooksInstall(io());
    });
  hooks
    .command('uninstall')
    .description('remove the scan from the pre-commit hook')
    .action(async () => {
      process.exitCode = await runHooksUninstall(io());
    });
}
