import type { Command } from 'commander';
import { Catalog } from '../catalog/catalog.js';
import type { ModelInfo } from '../catalog/schema.js';
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
  return new Catalog(loaded.config.catalog);
}

export function retirementNote(
  model: ModelInfo,
  now: Date,
): { status: 'retired' | 'retiring' | 'current'; note: string } {
  if (!model.retiresAt) return { status: 'current', note: '' };
  const today = now.toISOString().slice(0, 10);
  if (model.retiresAt <= today) return { status: 'retired', note: `RETIRED ${model.retiresAt}` };
  const days = Math.ceil((Date.parse(`${model.retiresAt}T00:00:00Z`) - now.getTime()) / 86_400_000);
  if (days <= RETIRING_SOON_DAYS)
    return { status: 'retiring', note: `retires ${model.retiresAt} (in ${days} days)` };
  return { status: 'current', note: `retires ${model.retiresAt}` };
}

export function catalogView(catalog: Catalog, now: Date) {
  return {
    versions: catalog.versions,
    batchDiscount: catalog.batchDiscount,
    inferenceGeo: catalog.inferenceGeo,
    models: catalog.models.map((model) => {
      const retirement = retirementNote(model, now);
      return { ...model, retirement: retirement.status };
    }),
    prices: catalog.models.map((model) => ({
      model: model.id,
      price: catalog.priceAt(model.id, now) ?? null,
    })),
    defaultTier: catalog.defaultTier,
    tiers: catalog.tiers,
  };
}

export function register(program: Command): void {
  program
    .command('catalog')
    .description('models, prices in force and rate-limit tiers, with any overrides from sluice.yaml')
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
      out.push(`Models (catalog ${catalog.versions.models})`);
      const warnings: string[] = [];
      const modelRows = [['model', 'aliases', 'class', 'context', 'max out', 'min cache', 'status']];
      for (const model of catalog.models) {
        const retirement = retirementNote(model, now);
        if (retirement.status !== 'current') warnings.push(`warning: ${model.id}: ${retirement.note}`);
        modelRows.push([
          model.id,
          model.aliases.join(', '),
          model.class,
          model.contextWindow.toLocaleString('en-US'),
          model.maxOutputTokens.toLocaleString('en-US'),
          model.minCacheableTokens.toLocaleString('en-US'),
          [retirement.note, model.unconfirmed?.length ? 'unconfirmed figures' : '']
            .filter(Boolean)
            .join('; '),
        ]);
      }
      out.push(textTable(modelRows), '');
      out.push(
        `Prices in force on ${now.toISOString().slice(0, 10)}, USD per million tokens (prices ${catalog.versions.prices})`,
      );
      const priceRows = [['model', 'since', 'input', 'write 5m', 'write 1h', 'read', 'output', 'notes']];
      for (const model of catalog.models) {
        const price = catalog.priceAt(model.id, now);
        if (!price) {
          priceRows.push([
            model.id,
            '-',
            '-',
            '-',
            '-',
            '-',
            '-',
            'no price: its requests are recorded as unpriced',
          ]);
          continue;
        }
        const notes: string[] = [];
        if (price.longContext && model.longContext) {
          notes.push(
            `> ${model.longContext.thresholdTokens.toLocaleString('en-US')} input: ${price.longContext.input} / ${price.longContext.output}`,
          );
        }
        if (catalog.inferenceGeo.appliesFromModels.includes(model.id))
          notes.push(`us geo × ${catalog.inferenceGeo.us}`);
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
      out.push(
        `Batch requests: × ${catalog.batchDiscount} on every kind (stacks with cache and geo multipliers).`,
        '',
      );
      out.push(
        `Rate-limit tiers (tiers ${catalog.versions.tiers}; default ${catalog.defaultTier}), RPM / ITPM / OTPM`,
      );
      const classes = catalog.modelClasses();
      const tierRows = [['tier', 'credit', 'monthly cap', ...classes]];
      for (const tier of catalog.tiers) {
        tierRows.push([
          tier.name + (tier.unconfirmed ? ' (unconfirmed)' : ''),
          tier.creditThresholdUsd ? `$${tier.creditThresholdUsd}` : '-',
          tier.monthlySpendCapUsd ? `$${tier.monthlySpendCapUsd}` : '-',
          ...classes.map((c) => {
            const l = catalog.tierLimits(tier.name, c);
            return `${l.rpm.toLocaleString('en-US')} / ${l.itpm.toLocaleString('en-US')} / ${l.otpm.toLocaleString('en-US')}`;
          }),
        ]);
      }
      out.push(textTable(tierRows));
      process.stdout.write(`${out.join('\n')}\n`);
      for (const warning of warnings) process.stderr.write(`${warning}\n`);
    });
}
