import type { Command } from 'commander';
import { catalogInForce } from '../catalog/catalog.js';
import {
  type ConfiguredModel,
  compareWithUpstream,
  formatCheckReport,
  hasFindings,
  listUpstreamModels,
} from '../catalog/upstream-check.js';
import { upstreamKeyFor } from '../config/load.js';
import type { LoadedConfig } from '../config/schema.js';
import { type ConfigFlags, loadForCommand, printJson } from './context.js';

interface CheckFlags extends ConfigFlags {
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

/** `sluice catalog check`: the catalog against the upstream's `GET /v1/models`. Exit 0 agree, 1 differ, 2 error. */
export function registerCheck(catalogCommand: Command): void {
  catalogCommand
    .command('check')
    .description(
      "compare the catalog with the upstream's GET /v1/models and the configured models with the catalog",
    )
    .option('--upstream <url>', 'base URL of the Anthropic API (default: upstream.url, SLUICE_UPSTREAM_URL)')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: CheckFlags) => {
      const loaded = loadForCommand(flags);
      const upstreamUrl = flags.upstream ?? loaded.config.upstream.url;
      const key = upstreamKeyFor(loaded, loaded.config.environment);
      if (!key)
        throw new Error(
          'no upstream key to list models with: set ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY)',
        );
      const catalog = catalogInForce(loaded.config.catalog);
      const upstream = await listUpstreamModels(upstreamUrl, key);
      const report = compareWithUpstream(catalog, upstream, configuredModels(loaded), new Date());
      if (flags.json) printJson({ catalog: catalog.version, upstream: upstreamUrl, ...report });
      else process.stdout.write(`${formatCheckReport(report, catalog.version, upstreamUrl)}\n`);
      if (hasFindings(report)) process.exitCode = 1;
    });
}
