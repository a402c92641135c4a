import { type Command, Option } from 'commander';
import { batchSpend } from '../batches/report.js';
import { catalogInForce } from '../catalog/catalog.js';
import { sinceToDate } from '../ledger/admin.js';
import {
  routingReport,
  SPEND_DIMENSIONS,
  type SpendDimension,
  type SpendLine,
  spendReport,
} from '../ledger/reports.js';
import { pruneLedger } from '../ledger/rollup.js';
import { textTable } from './catalog.js';
import { type ConfigFlags, loadForCommand, printJson, withStore } from './context.js';

interface SpendFlags extends ConfigFlags {
  since: string;
  by?: SpendDimension;
  json?: boolean;
  routing?: boolean;
  baselineModel?: string;
}

function checkAge(flag: string, value: string): string {
  if (!/^\d+[dh]$/.test(value))
    throw new Error(`${flag} takes a duration such as 30d or 12h, not "${value}"`);
  return value;
}

const tokens = (n: number) => n.toLocaleString('en-US');

function spendRow(label: string, l: SpendLine): string[] {
  return [
    label,
    tokens(l.requests) + (l.unpriced_requests > 0 ? ` (${l.unpriced_requests} unpriced)` : ''),
    tokens(l.input_tokens),
    tokens(l.cache_write_5m_tokens + l.cache_write_1h_tokens),
    tokens(l.cache_read_tokens),
    tokens(l.output_tokens),
    `$${l.cost_usd}`,
    `$${l.cache_savings_usd}`,
  ];
}

export function register(program: Command): void {
  const spend = program
    .command('spend')
    .description('spend from the ledger: totals, tokens, requests and cache savings')
    .option('--since <age>', 'how far back, e.g. 30d or 12h', '30d')
    .addOption(new Option('--by <dimension>', 'group by').choices(SPEND_DIMENSIONS))
    .option('--routing', 'routed requests: actual cost against the same usage on the critical model')
    .option('--baseline-model <model>', 'model to compare routed requests with (default: the critical model)')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: SpendFlags) => {
      checkAge('--since', flags.since);
      const loaded = loadForCommand(flags);
      const catalog = catalogInForce(loaded.config.catalog);
      const since = sinceToDate(flags.since);
      await withStore(loaded, async (store) => {
        if (flags.routing) {
          const baselineModel = flags.baselineModel ?? loaded.config.models.critical;
          if (!catalog.model(baselineModel))
            throw new Error(
              `--baseline-model: "${baselineModel}" is not a model in the catalog (see sluice catalog)`,
            );
          const report = await routingReport(store.db, {
            since,
            catalog,
            baselineModel,
          });
          if (flags.json) return printJson(report);
          const rows = [['tier', 'requests', 'actual', `on ${report.baseline_model}`]];
          for (const t of report.tiers)
            rows.push([t.tier, tokens(t.requests), `$${t.actual_usd}`, `$${t.baseline_usd}`]);
          rows.push([
            'all',
            tokens(report.routed_requests),
            `$${report.actual_usd}`,
            `$${report.baseline_usd}`,
          ]);
          const percent = report.saved_percent === null ? '' : ` (${report.saved_percent}%)`;
          process.stdout.write(
            `Routed requests since ${report.since}\n${textTable(rows)}\nSaved by routing: $${report.saved_usd}${percent}\n` +
              (report.unpriced_requests > 0
                ? `${report.unpriced_requests} requests left out: no price for their model or the baseline\n`
                : ''),
          );
          return;
        }
        const report = await spendReport(store.db, { since, by: flags.by, catalog });
        const batches = await batchSpend(store.db, { since });
        if (flags.json) return printJson({ ...report, batches });
        const header = [
          flags.by ?? '',
          'requests',
          'input',
          'cache write',
          'cache read',
          'output',
          'cost',
          'cache saved',
        ];
        const rows = [header];
        for (const g of report.groups)
          rows.push(spendRow(g.name ? `${g.name} (${g.group})` : g.group || '(none)', g));
        rows.push(spendRow('total', report.total));
        process.stdout.write(`Spend since ${report.since}\n${textTable(rows)}\n`);
        if (batches.batches > 0)
          process.stdout.write(
            `Message Batches: ${tokens(batches.succeeded_requests)} requests in ${tokens(batches.batches)} batches cost $${batches.cost_usd} (in the costs above); live they would have cost $${batches.live_cost_usd}, $${batches.saved_usd} more` +
              (batches.in_progress > 0 ? `; ${batches.in_progress} batches not recorded yet` : '') +
              '\n',
          );
        const tools = report.server_tools;
        if (tools.web_search_requests > 0)
          process.stdout.write(
            `Web searches: ${tokens(tools.web_search_requests)} (priced in the costs above)\n`,
          );
        if (tools.code_execution_requests > 0) {
          const code = catalog.serverTools.codeExecution;
          process.stdout.write(
            `Code execution: ${tokens(tools.code_execution_requests)} uses, not in the costs above: it is billed per container hour per organization ` +
              `($${code.usdPerContainerHour} an hour after ${tokens(code.freeHoursPerMonth)} free hours a month), which a request's usage does not report.\n`,
          );
        }
        if (report.total.unpriced_requests > 0) {
          process.stderr.write(
            `warning: ${report.total.unpriced_requests} requests used models without a price; they are counted at their family's dearest price. Run \`sluice catalog update\` or add a price under catalog.prices in sluice.yaml\n`,
          );
        }
      });
    });

  spend
    .command('prune')
    .description('roll ledger rows older than an age into daily totals, then delete them (totals are kept)')
    .requiredOption('--older-than <age>', 'e.g. 90d')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: ConfigFlags & { olderThan: string; json?: boolean }) => {
      checkAge('--older-than', flags.olderThan);
      const loaded = loadForCommand(flags);
      const catalog = catalogInForce(loaded.config.catalog);
      await withStore(loaded, async (store) => {
        const result = await pruneLedger(store.db, { before: sinceToDate(flags.olderThan), catalog });
        if (flags.json) return printJson({ ...result, cutoff: result.cutoff.toISOString() });
        process.stdout.write(
          `Pruned ${tokens(result.rowsPruned)} rows before ${result.cutoff.toISOString()} into ${tokens(result.rollupRows)} daily totals.\n`,
        );
      });
    });
}
