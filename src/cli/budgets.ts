import { type Command, Option } from 'commander';
import { catalogInForce } from '../catalog/catalog.js';
import { moneyAdmin } from '../ledger/admin.js';
import { resolveKeyId } from '../ledger/budget-config.js';
import {
  budgetId,
  budgetOwner,
  deleteBudget,
  listBudgets,
  setBudget,
  USD_AMOUNT,
} from '../ledger/budget-store.js';
import type { BudgetScope, BudgetWindow } from '../ledger/tables.js';
import { CHANGE_BOUND_MS } from '../store/changes.js';
import { textTable } from './catalog.js';
import { type ConfigFlags, loadForCommand, printJson, withStore } from './context.js';

interface SelectorFlags extends ConfigFlags {
  key?: string;
  environment?: string;
  global?: boolean;
  window: BudgetWindow;
  json?: boolean;
}

function selector(command: Command): Command {
  return command
    .option('--key <id-or-name>', 'a virtual key')
    .option('--environment <name>', 'every key of an environment')
    .option('--global', 'every request through the gateway')
    .addOption(
      new Option(
        '--window <window>',
        'daily and monthly reset at UTC midnight / month start; total never resets',
      )
        .choices(['daily', 'monthly', 'total'])
        .makeOptionMandatory(),
    )
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output');
}

function scopeOf(flags: SelectorFlags): { scope: BudgetScope; subject: string } {
  const chosen = [flags.key !== undefined, flags.environment !== undefined, flags.global === true].filter(
    Boolean,
  ).length;
  if (chosen !== 1) throw new Error('name exactly one of --key, --environment or --global');
  if (flags.key !== undefined) return { scope: 'key', subject: flags.key };
  if (flags.environment !== undefined) return { scope: 'environment', subject: flags.environment };
  return { scope: 'global', subject: '' };
}

export function register(program: Command): void {
  const budgets = program
    .command('budgets')
    .description('spend limits per key, environment or the whole gateway');

  selector(budgets.command('set'))
    .description('create or change a budget')
    .requiredOption('--usd <amount>', 'the limit in US dollars, e.g. 100 or 2.50')
    .option('--thresholds <list>', 'alert at these percentages', '50,80,100')
    .action(async (flags: SelectorFlags & { usd: string; thresholds: string }) => {
      const { scope, subject } = scopeOf(flags);
      if (!USD_AMOUNT.test(flags.usd))
        throw new Error(`--usd takes an amount in US dollars such as 100 or 2.50, not "${flags.usd}"`);
      const thresholds = flags.thresholds.split(',').map((t) => Number(t.trim()));
      if (thresholds.some((t) => !Number.isFinite(t) || t <= 0))
        throw new Error(`--thresholds takes percentages such as 50,80,100, not "${flags.thresholds}"`);
      const loaded = loadForCommand(flags);
      await withStore(loaded, async (store) => {
        const resolved = scope === 'key' ? await resolveKeyId(store.db, subject) : subject;
        if (scope === 'key' && !resolved)
          process.stderr.write(
            `warning: no virtual key named or with id "${subject}"; the budget applies once it exists\n`,
          );
        const budget = await setBudget(
          store.db,
          { scope, subject: resolved ?? subject, window: flags.window, usd: flags.usd, thresholds },
          'cli',
        );
        const { change, ...stored } = budget;
        const everywhereBy = new Date(change.at + CHANGE_BOUND_MS).toISOString();
        if (flags.json)
          return printJson({
            ...stored,
            limitPico: stored.limitPico.toString(),
            storedAt: new Date(change.at).toISOString(),
            enforcedEverywhereBy: everywhereBy,
          });
        process.stdout.write(
          `Budget of ${budgetOwner(budget)} (${budget.window}) set to $${flags.usd}; alerts at ${budget.thresholds.join(', ')} %.\n`,
        );
        process.stdout.write(
          `Stored at ${new Date(change.at).toISOString()}; every running gateway enforces it by ${everywhereBy} (they follow the change feed).\n`,
        );
      });
    });

  budgets
    .command('list')
    .description('budgets with their spend in the current window')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const loaded = loadForCommand(flags);
      await withStore(loaded, async (store) => {
        const { data } = await moneyAdmin({
          db: store.db,
          catalog: catalogInForce(loaded.config.catalog),
        }).listBudgets();
        if (flags.json) return printJson(data);
        if (data.length === 0) {
          process.stdout.write(
            'No budgets. Set one: sluice budgets set --global --window monthly --usd 100\n',
          );
          return;
        }
        const rows = [['budget of', 'window', 'limit', 'spent', 'used', 'resets', 'alerts at', 'from']];
        for (const b of data) {
          const used =
            Number(b.limit_usd) > 0
              ? `${Math.round((Number(b.spent_usd) / Number(b.limit_usd)) * 1000) / 10}%`
              : '-';
          rows.push([
            budgetOwner({ scope: b.scope, subject: b.subject, subjectName: b.subject_name }),
            b.window,
            `$${b.limit_usd}`,
            `$${b.spent_usd}`,
            used,
            b.resets_at ?? 'never',
            b.thresholds.join(','),
            b.source,
          ]);
        }
        process.stdout.write(`${textTable(rows)}\n`);
      });
    });

  selector(budgets.command('delete'))
    .description('remove a budget')
    .action(async (flags: SelectorFlags) => {
      const { scope, subject } = scopeOf(flags);
      const loaded = loadForCommand(flags);
      await withStore(loaded, async (store) => {
        const resolved = scope === 'key' ? ((await resolveKeyId(store.db, subject)) ?? subject) : subject;
        const id = budgetId(scope, resolved, flags.window);
        const owner = budgetOwner(
          (await listBudgets(store.db)).find((b) => b.id === id) ?? { scope, subject },
        );
        const deleted = await deleteBudget(store.db, id);
        if (flags.json) return printJson({ id, deleted });
        if (!deleted) throw new Error(`no ${flags.window} budget of ${owner}; see sluice budgets list`);
        process.stdout.write(`Budget of ${owner} (${flags.window}) deleted.\n`);
      });
    });
}
