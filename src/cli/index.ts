import { Command, CommanderError } from 'commander';
import { readPackageVersion } from './version.js';

/** Each subcommand lives in its own file and adds itself to the program. */
type Register = (program: Command) => void;

const commands: Array<() => Promise<{ register: Register }>> = [
  () => import('./serve.js'),
  () => import('./keys.js'),
  () => import('./demo.js'),
  () => import('./scan.js'),
  () => import('./hooks.js'),
  () => import('./init.js'),
  () => import('./doctor.js'),
  () => import('./simulate.js'),
  () => import('./route.js'),
  () => import('./catalog.js'),
  () => import('./spend.js'),
  () => import('./tier.js'),
  () => import('./budgets.js'),
];

/** The `sluice` command with every subcommand registered. */
export async function buildProgram(): Promise<Command> {
  const program = new Command('sluice')
    .description('Gateway and toolkit for the Anthropic API')
    .version(readPackageVersion())
    .showHelpAfterError()
    // Options after a subcommand are that subcommand's (`catalog update --json`).
    .enablePositionalOptions()
    // Usage errors end in an exception (not commander's exit 1) so that `run` can give them 2.
    .exitOverride();
  for (const load of commands) (await load()).register(program);
  return program;
}

/** Exit code for usage errors (unknown option, bad choice, missing argument), as for other errors. */
export const EXIT_USAGE = 2;

/**
 * Runs the command line; resolves to the exit code commander asked for, if it stopped early
 * (0 for --help and --version, EXIT_USAGE for a usage error it has already printed).
 */
export async function run(argv: string[]): Promise<number | undefined> {
  try {
    await (await buildProgram()).parseAsync(argv);
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    throw error;
  }
}
