import { type Command, InvalidArgumentError } from 'commander';
import { type SimulatorOptions, startSimulator } from '../simulator/index.js';

interface SimulateFlags {
  port: number;
  host: string;
  apiKey: string[];
  tier?: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
  latency: string;
  spendCap?: number;
  seed?: number;
  outputTokens?: number;
  exactHeaders?: boolean;
  workspaceGeo?: string;
  timeScale?: number;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a whole number');
  return parsed;
}

function amount(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError('expected an amount in USD');
  return parsed;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Enough of a key to recognise it, never the key. */
function keyHint(key: string): string {
  return `${key.slice(0, 10)}…${key.slice(-4)}`;
}

export function toSimulatorOptions(flags: SimulateFlags): SimulatorOptions {
  const explicit = [flags.rpm, flags.itpm, flags.otpm];
  const given = explicit.filter((v) => v !== undefined).length;
  if (given > 0 && given < 3) throw new Error('--rpm, --itpm and --otpm go together');
  if (given === 3 && flags.tier) throw new Error('use either --tier or --rpm/--itpm/--otpm');
  if (flags.latency !== 'none' && flags.latency !== 'realistic') {
    throw new Error(`--latency must be none or realistic, not "${flags.latency}"`);
  }
  return {
    port: flags.port,
    host: flags.host,
    apiKeys: flags.apiKey.length > 0 ? flags.apiKey : undefined,
    tier: flags.tier,
    limits: given === 3 ? { rpm: flags.rpm!, itpm: flags.itpm!, otpm: flags.otpm! } : undefined,
    latency: flags.latency,
    monthlySpendCapUsd: flags.spendCap,
    seed: flags.seed,
    outputTokens: flags.outputTokens,
    roundRateLimitHeaders: !flags.exactHeaders,
    workspaceGeo: flags.workspaceGeo,
    timeScale: flags.timeScale,
  };
}

export function register(program: Command): void {
  program
    .command('simulate')
    .description('Run the Anthropic API simulator (for tests and demos; no real API calls)')
    .option('--port <port>', 'port to listen on (0 picks a free one)', integer, 0)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--api-key <key>',
      'accepted API key, repeatable (default: any key starting sk-ant-)',
      collect,
      [],
    )
    .option(
      '--tier <name>',
      'rate-limit tier from the catalog: evaluation, start, build, scale, custom (default: the roomiest)',
    )
    .option('--rpm <n>', 'requests per minute, for every model pool', integer)
    .option('--itpm <n>', 'input tokens per minute', integer)
    .option('--otpm <n>', 'output tokens per minute', integer)
    .option('--latency <profile>', 'none or realistic', 'none')
    .option(
      '--spend-cap <usd>',
      'monthly spend cap; over it requests get 429 enforced_spend_limit_reached',
      amount,
    )
    .option('--seed <n>', 'mixed into every response seed and the random fault rates', integer)
    .option('--output-tokens <n>', 'length of generated text when max_tokens allows (default 32)', integer)
    .option(
      '--exact-headers',
      'report exact token counts in anthropic-ratelimit-*-remaining (default: rounded to thousands)',
    )
    .option(
      '--workspace-geo <geo>',
      'the workspace default inference_geo reported in usage when a request sets none (default: global)',
    )
    .option(
      '--time-scale <n>',
      'simulated time runs n times faster (3600: an hour of batch processing or expiry passes in a second)',
      (value: string) => {
        const parsed = Number(value);
        if (!(parsed > 0)) throw new InvalidArgumentError('expected a number above 0');
        return parsed;
      },
    )
    .action(async (flags: SimulateFlags) => {
      const options = toSimulatorOptions(flags);
      const simulator = await startSimulator(options);
      const keys = options.apiKeys ? options.apiKeys.map(keyHint).join(', ') : 'any key starting sk-ant-';
      const limits = options.limits
        ? `${options.limits.rpm} RPM / ${options.limits.itpm} ITPM / ${options.limits.otpm} OTPM`
        : `tier ${options.tier ?? 'default (roomiest)'}`;
      process.stderr.write(
        `sluice simulate: Anthropic API simulator ready (keys: ${keys}; limits: ${limits}; latency: ${flags.latency}). Control endpoints under ${simulator.url}/_sim/\n`,
      );
      process.stdout.write(`${simulator.url}\n`);
      const stop = (): void => {
        simulator.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
