import type { Command } from 'commander';
import { catalogInForce } from '../catalog/catalog.js';
import {
  type ConfiguredModel,
  compareWithUpstream,
  formatCheckReport,
  hasFindings,
  listUpstreamModels,
} from '../catalog/upstream-check.js';
import { loadConfig, upstreamKeyFor } from '../config/load.js';
import type { LoadedConfig } from '../config/schema.js';
import type { ConfigFlags } from './context.js';
import { type CommandIo, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS } from './scan.js';

export interface CheckFlags extends ConfigFlags {
  upstream?: string;
  json?: boolean;
}

/** The routing defaults and fallback chains, as configured (before retired ones were replaced). */
function configuredModels(loaded: LoadedConfig): ConfiguredModel[] {
  const models = loaded.configuredModels;
  const list: ConfiguredModel[] = [
    { setting: 'models.default', model: models.default },
    { setting: 'models.reasoning', model: models.reasoning },
    { setting: 'models.critical', model: models.critical },
  ];
  for (const [from, chain] of Object.entries(loaded.config.upstream.fallback)) {
    list.push({ setting: `upstream.fallback (key ${from})`, model: from });
    for (const [i, model] of chain.entries())
      list.push({ setting: `upstream.fallback.${from}[${i}]`, model });
  }
  return list;
}

/**
 * The catalog against the upstream's `GET /v1/models`, and the configured models against the
 * catalog. Exit 0 when all agree, 1 when something differs, 2 on an error.
 */
export async function runCatalogCheck(flags: CheckFlags, io: CommandIo): Promise<number> {
  try {
    const loaded = loadConfig({ cwd: io.cwd, env: io.env, configPath: flags.config });
    for (const warning of loaded.warnings) io.stderr.write(`warning: ${warning}\n`);
    const upstreamUrl = flags.upstream ?? loaded.config.upstream.url;
    const key = upstreamKeyFor(loaded, loaded.config.environment);
    if (!key)
      throw new Error('no upstream key to list models with: set ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY)');
    const catalog = catalogInForce(loaded.config.catalog);
    const upstream = await listUpstreamModels(upstreamUrl, key);
    const report = compareWithUpstream(catalog, upstream, configuredModels(loaded), new Date());
    if (flags.json)
      io.stdout.write(
        `${JSON.stringify({ catalog: catalog.version, upstream: upstreamUrl, ...report }, null, 2)}\n`,
      );
    else io.stdout.write(`${formatCheckReport(report, catalog.version, upstreamUrl)}\n`);
    return hasFindings(report) ? EXIT_FINDINGS : EXIT_CLEAN;
  } catch (error) {
    io.stderr.write(`sluice catalog check: ${(error as Error).message}\n`);
    return EXIT_ERROR;
  }
}

export function registerCheck(catalogCommand: Command): void {
  catalogCommand
    .command('check')
    .description(
      "compare the catalog with the upstream's GET /v1/models, and the configured models with the catalog",
    )
    .option('--upstream <url>', 'base URL of the Anthropic API (default: upstream.url, SLUICE_UPSTREAM_URL)')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: CheckFlags) => {
      process.exitCode = await runCatalogCheck(flags, {
        cwd: process.cwd(),
        stdout: process.stdout,
        stderr: process.stderr,
      });
    });
}
