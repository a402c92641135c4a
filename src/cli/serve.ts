import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { startGateway } from '../server/gateway.js';
import { gatewayPlugins } from '../server/plugins.js';
import { positiveInt } from './context.js';

interface ServeFlags {
  port?: number;
  host?: string;
  config?: string;
  tier?: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gateway')
    .option('--port <port>', 'port to listen on (default 8787)', (v) => Number(v))
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--config <path>', 'path to sluice.yaml')
    .option(
      '--tier <name>',
      'upstream rate-limit tier (evaluation, start, build, scale, custom); also SLUICE_TIER',
    )
    .option('--rpm <n>', 'upstream requests per minute, for every pool', positiveInt('--rpm'))
    .option('--itpm <n>', 'upstream input tokens per minute', positiveInt('--itpm'))
    .option('--otpm <n>', 'upstream output tokens per minute', positiveInt('--otpm'))
    .action(async (flags: ServeFlags) => {
      const loaded = loadConfig({
        configPath: flags.config,
        flags: { host: flags.host, port: flags.port },
        requireUpstreamKey: true,
      });
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      const gateway = await startGateway({
        loaded,
        plugins: (core) =>
          gatewayPlugins(core, { tier: flags.tier, rpm: flags.rpm, itpm: flags.itpm, otpm: flags.otpm }),
      });
      gateway.logger.info(
        { url: gateway.url, upstream: loaded.config.upstream.url, environment: loaded.config.environment },
        'sluice listening',
      );
      process.stdout.write(`sluice gateway listening on ${gateway.url}\n`);
      const stop = (signal: string) => {
        gateway.logger.info({ signal, inFlight: gateway.inFlight() }, 'draining');
        gateway.close().then(
          () => process.exit(0),
          (error) => {
            gateway.logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
