import type { Command } from 'commander';
import { type Catalog, catalogInForce } from '../catalog/catalog.js';
import type { ModelInfo } from '../catalog/schema.js';
import { unpricedTreatment } from '../catalog/unpriced.js';
import { registerCheck } from './catalog-check.js';
import { registerUpdate } from './catalog-update.js';
import { type ConfigFlags, loadForCommand, printJson } from './context.js';

const RETIRING_SOON_DAYS = 90;

/** Left-aligned text columns, two spaces apart. */
export function textTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The catalog in force: the shipped data files with sluice.yaml's `catalog:` overrides. */
export function catalogForCommand(flags: ConfigFlags): Catalog {
  const loaded = loadForCommand(flags);
  return catalogInForce(loaded.config.catalog);
}

export function retirementNote(
  catalog: Catalog,
  model: ModelInfo,
  now: Date,
): { status: 'retired' | 'retiring' | 'current'; note: string } {
  const status = catalog.statusAt(model, now);
  if (status === 'retired')
    return {
      status: 'retired',
      note: `RETIRED${model.retiresAt ? ` ${model.retiresAt}` : ''}${replacedBy(model)}`,
    };
  const days = catalog.daysToRetirement(model, now);
  if (days === undefined) return { status: 'current', note: status === 'active' ? '' : status };
  if (days <= RETIRING_SOON_DAYS)
    return { status: 'retiring', note: `retires ${model.retiresAt} (in ${days} days)${replacedBy(model)}` };
  return { status: 'current', note: `retires ${model.retiresAt}` };
}

const replacedBy = (model: ModelInfo) => (model.replacement ? `, use ${model.replacement}` : '');

export function catalogView(catalog: Catalog, now: Date) {
  return {
    version: catalog.version,
    checked: catalog.document.checked,
    source: catalog.document.source,
    multipliers: catalog.document.multipliers,
    serverTools: catalog.serverTools,
    routing: catalog.routingDefaults,
    unpricedPolicy: catalog.unpricedPolicy,
    models: catalog.models.map((model) => ({
      ...model,
      status: catalog.statusAt(model, now),
      retirement: retirementNote(catalog, model, now).status,
    })),
    prices: catalog.models.map((model) => ({
      model: model.id,
      price: catalog.priceAt(model.id, now) ?? null,
    })),
    pools: catalog.pools,
    defaultTier: catalog.defaultTier,
    tiers: catalog.tiers,
  };
}

const n = (value: number) => value.toLocaleString('en-US');

export function register(program: Command): void {
  const command = program
    .command('catalog')
    .description('models, prices in force and rate-limit tiers, with any overrides from sluice.yaml')
    // `catalog update --json` is the subcommand's flag, not this command's.
    .enablePositionalOptions()
    .option('--at <date>', 'show the prices in force on this date (YYYY-MM-DD) instead of today')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action((flags: ConfigFlags & { at?: string; json?: boolean }) => {
      const catalog = catalogForCommand(flags);
      const now = flags.at ? new Date(`${flags.at}T12:00:00Z`) : new Date();
      if (Number.isNaN(now.getTime())) throw new Error(`--at takes a date YYYY-MM-DD, not "${flags.at}"`);
      if (flags.json) {
        printJson(catalogView(catalog, now));
        return;
      }
      const out: string[] = [];
      out.push(`Models (catalog ${catalog.version}, checked ${catalog.document.checked})`);
      const warnings: string[] = [];
      const modelRows = [['model', 'aliases', 'pool', 'context', 'max out', 'min cache', 'status']];
      for (const model of catalog.models) {
        const retirement = retirementNote(catalog, model, now);
        if (retirement.status === 'retiring') warnings.push(`warning: ${model.id}: ${retirement.note}`);
        modelRows.push([
          model.id,
          model.aliases.join(', '),
          model.pool,
          n(model.contextWindow),
          n(model.maxOutputTokens),
          n(model.minCacheableTokens),
          [
            retirement.note || catalog.statusAt(model, now),
            model.unconfirmed?.length ? 'unconfirmed figures' : '',
          ]
            .filter(Boolean)
            .join('; '),
        ]);
      }
      out.push(textTable(modelRows), '');
      out.push(`Prices in force on ${now.toISOString().slice(0, 10)}, USD per million tokens`);
      const priceRows = [['model', 'since', 'input', 'write 5m', 'write 1h', 'read', 'output', 'notes']];
      for (const model of catalog.models) {
        const price = catalog.priceAt(model.id, now);
        if (!price) {
          const counted =
            catalog.statusAt(model, now) === 'retired'
              ? 'retired'
              : unpricedTreatment(catalog.unpricedPolicy);
          priceRows.push([
            model.id,
            '-',
            '-',
            '-',
            '-',
            '-',
            '-',
            counted === 'retired' ? 'no price (retired)' : `no price: requests ${counted}`,
          ]);
          continue;
        }
        const notes: string[] = [];
        for (const tier of price.promptTiers ?? [])
          notes.push(`prompt > ${n(tier.aboveTokens)}: ${tier.input} / ${tier.output} (whole request)`);
        if (price.fast) notes.push(`fast: ${price.fast.input} / ${price.fast.output}`);
        if (model.inferenceGeo) notes.push(`us geo × ${catalog.document.multipliers.inferenceGeo.values.us}`);
        const next = catalog.prices
          .filter((p) => catalog.model(p.model)?.id === model.id && p.from > price.from)
          .sort((a, b) => a.from.localeCompare(b.from))[0];
        if (next) notes.push(`from ${next.from}: ${next.input} / ${next.output}`);
        priceRows.push([
          model.id,
          price.from,
          price.input,
          price.cacheWrite5m,
          price.cacheWrite1h,
          price.cacheRead,
          price.output,
          notes.join('; '),
        ]);
      }
      out.push(textTable(priceRows));
      const tools = catalog.serverTools;
      out.push(
        `Batch requests: × ${catalog.batchMultiplier} on every token kind (stacks with cache, geo and prompt-size rates).`,
        `Web search: $${tools.webSearch.usdPerUse} per search; web fetch: tokens only; code execution: $${tools.codeExecution.usdPerContainerHour} per container hour after ${n(tools.codeExecution.freeHoursPerMonth)} free hours a month (billed per organization: counted, not priced per request).`,
        '',
      );
      out.push(`Rate-limit tiers (default ${catalog.defaultTier}), RPM / ITPM / OTPM per pool`);
      const pools = catalog.poolIds();
      const tierRows = [['pool', ...catalog.tiers.map((t) => t.name + (t.unconfirmed?.length ? '*' : ''))]];
      for (const pool of pools) {
        tierRows.push([
          pool + (catalog.pool(pool)?.unconfirmed ? '*' : ''),
          ...catalog.tiers.map((tier) => {
            const l = catalog.tierLimits(tier.name, pool);
            return `${n(l.rpm)} / ${n(l.itpm)} / ${n(l.otpm)}`;
          }),
        ]);
      }
      tierRows.push([
        'monthly cap',
        ...catalog.tiers.map((t) => (t.monthlySpendCapUsd ? `$${n(Number(t.monthlySpendCapUsd))}` : '-')),
      ]);
      out.push(
        textTable(tierRows),
        '* figures not confirmed by a primary source: override them in sluice.yaml',
      );
      process.stdout.write(`${out.join('\n')}\n`);
      for (const warning of warnings) process.stderr.write(`${warning}\n`);
    });
  registerUpdate(command);
  registerCheck(command);
}
