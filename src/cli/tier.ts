import type { Command } from 'commander';
import { catalogInForce } from '../catalog/catalog.js';
import { tierReport } from '../ledger/reports.js';
import { textTable } from './catalog.js';
import { type ConfigFlags, loadForCommand, printJson, withStore } from './context.js';

const n = (value: number) => value.toLocaleString('en-US');

export function register(program: Command): void {
  program
    .command('tier')
    .description(
      'spend and the busiest minutes seen in the ledger against your rate-limit tier, and what the next tier needs',
    )
    .option(
      '--tier <name>',
      'the tier to compare with (default: SLUICE_TIER, limits.tier in sluice.yaml, then the catalog default)',
    )
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: ConfigFlags & { tier?: string; json?: boolean }) => {
      const loaded = loadForCommand(flags);
      const catalog = catalogInForce(loaded.config.catalog);
      const configured = (loaded.config.limits as { tier?: unknown } | undefined)?.tier;
      const tier =
        flags.tier ??
        process.env.SLUICE_TIER ??
        (typeof configured === 'string' ? configured : undefined) ??
        catalog.defaultTier;
      await withStore(loaded, async (store) => {
        const report = await tierReport(store.db, { catalog, tier });
        if (flags.json) return printJson(report);
        const out: string[] = [];
        out.push(
          `Tier ${report.tier}${report.unconfirmed.length ? ` (unconfirmed: ${report.unconfirmed.join(', ')})` : ''}` +
            (report.monthly_spend_cap_usd ? `, monthly spend cap $${report.monthly_spend_cap_usd}` : ''),
        );
        out.push(
          `Spend: last 30 days $${report.spend_30d_usd}, this month $${report.spend_this_month_usd}, cumulative $${report.cumulative_usd}`,
          '',
          'Busiest minute in the last 30 days against the tier (headroom)',
        );
        const rows = [['pool', 'requests/min', 'input tokens/min', 'output tokens/min']];
        for (const c of report.pools) {
          const cell = (peak: number, limit: number, headroom: number) =>
            `${n(peak)} / ${n(limit)} (${headroom}%)`;
          rows.push([
            c.pool,
            cell(c.peak.rpm, c.limits.rpm, c.headroom_percent.rpm),
            cell(c.peak.itpm, c.limits.itpm, c.headroom_percent.itpm),
            cell(c.peak.otpm, c.limits.otpm, c.headroom_percent.otpm),
          ]);
        }
        out.push(textTable(rows));
        if (report.next_tier) {
          const next = report.next_tier;
          out.push('', `Next: ${next.name}, assigned by usage history and account standing`);
        } else {
          out.push('', 'No higher published tier: ask Anthropic for custom limits.');
        }
        process.stdout.write(`${out.join('\n')}\n`);
        for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
      });
    });
}
