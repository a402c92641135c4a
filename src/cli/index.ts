import { Command } from 'commander';
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
    .enablePositionalOptions();
  for (const load of commands) (await load()).register(program);
  return program;
}

export async function run(argv: string[]): Promise<void> {
  await (await buildProgram()).parseAsync(argv);
}
