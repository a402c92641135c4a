import { Command, CommanderError } from 'commander';
import { readPackageVersion } from './version.js';

/** Each subcommand lives in its own file and adds itself to the program. */
type Register = (program: Command) => void;

/** Each subcommand by its name, loaded when needed. */
const commands: Record<string, () => Promise<{ register: Register }>> = {
  serve: () => import('./serve.js'),
  keys: () => import('./keys.js'),
  demo: () => import('./demo.js'),
  scan: () => import('./scan.js'),
  hooks: () => import('./hooks.js'),
  init: () => import('./init.js'),
  doctor: () => import('./doctor.js'),
  simulate: () => import('./simulate.js'),
  route: () => import('./route.js'),
  catalog: () => import('./catalog.js'),
  spend: () => import('./spend.js'),
  tier: () => import('./tier.js'),
  budgets: () => import('./budgets.js'),
};

/**
 * The `sluice` command. When `argv` names a subcommand, only that one is registered: a process
 * keeps the source and code of every module it loads, and a gateway has no use for the demo's
 * SDK client, the simulator or the scanner. Otherwise (help, an unknown command) all are.
 */
export async function buildProgram(argv?: string[]): Promise<Command> {
  const program = new Command('sluice')
    .description('Gateway and toolkit for the Anthropic API')
    .version(readPackageVersion())
    .showHelpAfterError()
    // Options after a subcommand are that subcommand's (`catalog update --json`).
    .enablePositionalOptions()
    // Usage errors end in an exception (not commander's exit 1) so that `run` can give them 2.
    .exitOverride();
  const named = argv?.[2];
  const loads =
    named !== undefined && Object.hasOwn(commands, named) ? [commands[named]!] : Object.values(commands);
  for (const load of loads) (await load()).register(program);
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
    await (await buildProgram(argv)).parseAsync(argv);
    return undefined;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : EXIT_USAGE;
    throw error;
  }
}
