import type { Command } from 'commander';
import { catalogInForce } from '../catalog/catalog.js';
import { auditKeys, type KeyAudit } from '../keys/audit.js';
import { keyPolicy } from '../keys/service.js';
import { auditUpstreamKeys, deactivateUpstreamKeys } from '../keys/upstream-audit.js';
import { textTable } from './catalog.js';
import {
  type ConfigFlags,
  keyServiceFor,
  loadForCommand,
  positiveInt,
  printJson,
  withStore,
} from './context.js';

interface AuditFlags extends ConfigFlags {
  unusedDays: number;
  json?: boolean;
  upstream?: boolean;
  deactivate?: string[];
  confirm?: boolean;
}

/** `sluice keys audit`: the quarterly key review, for virtual keys and (with an admin key) real ones. */
export function registerKeysAudit(keys: Command): void {
  keys
    .command('audit')
    .description('flag keys unused for N days, expired, without a budget, with unused models or bad names')
    .option(
      '--unused-days <n>',
      'a key without a request for this many days is flagged',
      positiveInt('--unused-days'),
      90,
    )
    .option(
      '--upstream',
      "audit the organization's real API keys through the Admin API (needs ANTHROPIC_ADMIN_KEY)",
    )
    .option(
      '--deactivate <id...>',
      'with --upstream: set these API keys inactive (a dry run unless --confirm)',
    )
    .option('--confirm', 'carry out --deactivate')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: AuditFlags) => {
      const loaded = loadForCommand(flags);
      if (flags.deactivate && !flags.upstream)
        throw new Error('--deactivate works on upstream keys: add --upstream');
      if (!flags.upstream) {
        const catalog = catalogInForce(loaded.config.catalog);
        const audit = await withStore(loaded, (store) =>
          auditKeys(store.db, keyServiceFor(loaded, store), keyPolicy(loaded.config), catalog, {
            unusedDays: flags.unusedDays,
          }),
        );
        if (flags.json) return printJson(audit);
        const flagged = audit.keys.filter((k) => k.flags.length > 0).length;
        process.stdout.write(
          `${textTable(auditTable(audit))}\n\n${flagged} of ${audit.keys.length} keys flagged (unused for ${flags.unusedDays} days; naming rule: ${audit.naming_rule}).\n`,
        );
        return;
      }

      const adminKey = loaded.adminKey;
      if (!adminKey)
        throw new Error(
          'ANTHROPIC_ADMIN_KEY is not set: the upstream audit reads the Admin API with an admin key (sk-ant-admin01-…), which Sluice never uses for anything else',
        );
      const target = { baseUrl: loaded.config.upstream.url, adminKey };
      if (flags.deactivate) {
        if (!flags.confirm) {
          const note = `Dry run: would set ${flags.deactivate.length} key(s) inactive: ${flags.deactivate.join(', ')}. Add --confirm to do it.`;
          if (flags.json) return printJson({ dry_run: true, deactivate: flags.deactivate });
          process.stdout.write(`${note}\n`);
          return;
        }
        const done = await deactivateUpstreamKeys(target, flags.deactivate);
        if (flags.json) return printJson({ dry_run: false, deactivated: done });
        for (const d of done) process.stdout.write(`${d.id}: ${d.status}\n`);
        return;
      }
      const audit = await auditUpstreamKeys({
        ...target,
        unusedDays: flags.unusedDays,
        namePattern: new RegExp(loaded.config.keys.naming.pattern),
        heldKeys: loaded.upstreamKeys.values(),
      });
      if (flags.json) return printJson(audit);
      const rows = [
        ['ID', 'NAME', 'STATUS', 'HINT', 'LAST USED', 'FLAGS'],
        ...audit.keys.map((k) => [
          k.id,
          k.name,
          k.status,
          k.hint ?? '',
          k.lastUsedDay ?? `not in ${flags.unusedDays} days`,
          k.flags.join(' ') || '-',
        ]),
      ];
      const flagged = audit.keys.filter((k) => k.flags.length > 0);
      process.stdout.write(
        `${textTable(rows)}\n\n${flagged.length} of ${audit.keys.length} API keys flagged.\n`,
      );
      const unused = flagged.filter((k) => k.flags.includes('unused')).map((k) => k.id);
      if (unused.length > 0)
        process.stdout.write(
          `To deactivate the unused ones: sluice keys audit --upstream --deactivate ${unused.join(' ')} --confirm\n`,
        );
    });
}

/** The audit as a table for people. */
function auditTable(audit: KeyAudit): string[][] {
  return [
    ['NAME', 'ENV', 'STATUS', 'LAST USED', 'FLAGS'],
    ...audit.keys.map((k) => [
      k.name,
      k.environment,
      k.status,
      k.lastUsedAt ?? 'never',
      k.flags.length === 0
        ? '-'
        : k.flags
            .map((f) => (f === 'unused_models' ? `unused_models(${k.unusedModels!.join(',')})` : f))
            .join(' '),
    ]),
  ];
}
