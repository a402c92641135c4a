import { type Command, InvalidArgumentError, Option } from 'commander';
import type { LoadedConfig } from '../config/schema.js';
import { parseDuration } from '../keys/duration.js';
import { KeyError, type KeyService, type KeySettings, type KeyView } from '../keys/service.js';
import { type KeyGuards, parseGuardSpec } from '../limits/runaway-config.js';
import { textTable } from './catalog.js';
import {
  type ConfigFlags,
  keyServiceFor,
  loadForCommand,
  positiveInt,
  printJson,
  withStore,
} from './context.js';
import { registerKeysAudit } from './keys-audit.js';
import { registerDeveloperCommands } from './keys-developer.js';
import { EXIT_ERROR } from './scan.js';

export interface SettingsFlags extends ConfigFlags {
  expires?: string;
  models?: string;
  maxTokens?: number;
  rpm?: number;
  tpm?: number;
  tpd?: number;
  priority?: 'interactive' | 'batch';
  maxTier?: 'fast' | 'reasoning' | 'critical';
  auto?: boolean;
  developer?: string;
  guard?: KeyGuards | 'default';
  json?: boolean;
}

function intOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser((value) => {
    try {
      return positiveInt(flags.split(' ')[0]!)(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  });
}

export function withSettings(command: Command): Command {
  return command
    .option('--expires <duration>', 'expire after this long, e.g. 90d, 12h')
    .option('--models <list>', 'comma-separated models this key may use')
    .addOption(intOption('--max-tokens <n>', 'cap on max_tokens (also the default when a request has none)'))
    .addOption(intOption('--rpm <n>', "this key's requests per minute"))
    .addOption(intOption('--tpm <n>', "this key's tokens (input + output) per minute"))
    .addOption(intOption('--tpd <n>', "this key's tokens per day"))
    .addOption(new Option('--priority <p>', 'default queue priority').choices(['interactive', 'batch']))
    .addOption(
      new Option('--max-tier <tier>', 'highest routing tier for model "auto"').choices([
        'fast',
        'reasoning',
        'critical',
      ]),
    )
    .option('--no-auto', 'refuse model "auto" for this key (tier aliases stay allowed within --max-tier)')
    .option('--developer <who>', 'the developer this key belongs to (sluice spend --by developer)')
    .addOption(
      new Option(
        '--guard <spec>',
        'runaway guards of this key: "off", "default", or e.g. session.rpm=60,key.usd_per_hour=30',
      ).argParser((value) => {
        if (value.trim() === 'default') return 'default';
        try {
          return parseGuardSpec(value);
        } catch (error) {
          throw new InvalidArgumentError((error as Error).message);
        }
      }),
    )
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output');
}

export function settingsFrom(flags: SettingsFlags): KeySettings {
  const settings: KeySettings = {};
  if (flags.expires !== undefined) settings.expiresAt = Date.now() + parseDuration(flags.expires);
  if (flags.models !== undefined)
    settings.models = flags.models
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
  if (flags.maxTokens !== undefined) settings.maxTokens = flags.maxTokens;
  if (flags.rpm !== undefined) settings.rpm = flags.rpm;
  if (flags.tpm !== undefined) settings.tpm = flags.tpm;
  if (flags.tpd !== undefined) settings.tpd = flags.tpd;
  if (flags.priority !== undefined) settings.priority = flags.priority;
  if (flags.maxTier !== undefined) settings.maxTier = flags.maxTier;
  if (flags.auto === false) settings.allowAuto = false;
  if (flags.developer !== undefined) settings.developer = flags.developer;
  if (flags.guard !== undefined) settings.guards = flags.guard === 'default' ? null : flags.guard;
  return settings;
}

function limitsOf(view: KeyView): string {
  return [
    view.developer && `developer ${view.developer}`,
    view.kind === 'exchange' && 'exchange credential',
    view.kind === 'short_lived' && 'short-lived',
    view.guards && `guards ${guardText(view.guards)}`,
    view.maxTokens && `max_tokens≤${view.maxTokens}`,
    view.rpm && `${view.rpm} rpm`,
    view.tpm && `${view.tpm} tpm`,
    view.tpd && `${view.tpd} tpd`,
    view.models && `models: ${view.models.join(',')}`,
    view.maxTier && `tier≤${view.maxTier}`,
    !view.allowAuto && 'no auto',
  ]
    .filter(Boolean)
    .join(' ');
}

function guardText(guards: KeyGuards): string {
  if (guards.off) return 'off';
  const names = { rpm: 'rpm', tpm: 'tpm', usdPerHour: 'usd_per_hour' } as const;
  return (['session', 'key'] as const)
    .flatMap((scope) =>
      Object.entries(guards[scope] ?? {}).map(
        ([field, value]) => `${scope}.${names[field as keyof typeof names]}=${value}`,
      ),
    )
    .join(',');
}

const KEY_COLUMNS = ['name', 'environment', 'status', 'key', 'last used', 'expires', 'limits'];

function keyRow(view: KeyView): string[] {
  return [
    view.name,
    view.environment,
    view.status,
    view.hint,
    view.lastUsedAt ?? 'never',
    view.expiresAt ?? 'never',
    limitsOf(view),
  ];
}

/** Keys as a table under a header row. */
export function keyTable(views: KeyView[]): string {
  return textTable([KEY_COLUMNS, ...views.map(keyRow)]);
}

export async function run(
  flags: ConfigFlags,
  work: (keys: KeyService, loaded: LoadedConfig) => Promise<void>,
) {
  const loaded = loadForCommand(flags);
  try {
    await withStore(loaded, (store) => work(keyServiceFor(loaded, store), loaded));
  } catch (error) {
    if (error instanceof KeyError) {
      process.stderr.write(`sluice keys: ${error.message}\n`);
      process.exitCode = EXIT_ERROR;
      return;
    }
    throw error;
  }
}

export function register(program: Command): void {
  const keys = program.command('keys').description('manage virtual keys (sk-sluice-…)');
  registerKeysAudit(keys);

  withSettings(
    keys.command('create').description('create a key; its secret is shown once').argument('[name]'),
  )
    .option('--name <name>', 'key name, e.g. prod-backend-v1 (or give it as the argument)')
    .option('--env <environment>', 'environment the key belongs to (default: ANTHROPIC_ENV)')
    .action(
      async (positional: string | undefined, flags: SettingsFlags & { name?: string; env?: string }) => {
        const name = flags.name ?? positional;
        if (!name)
          throw new InvalidArgumentError('give the key a name: sluice keys create --name prod-backend-v1');
        await run(flags, async (service, loaded) => {
          const environment = flags.env ?? loaded.config.environment;
          const { key, view } = await service.create({ name, environment, ...settingsFrom(flags) });
          if (flags.json) return printJson({ key, ...view });
          process.stdout.write(
            `Created ${view.name} (${view.environment}).\n\n  ${key}\n\nThis secret is shown once: store it in your secret manager now.\n`,
          );
        });
      },
    );

  keys
    .command('list')
    .description('list keys (never their secrets)')
    .option('--short-lived', 'include short-lived keys bought with exchange credentials')
    .option('--config <path>', 'path to sluice.yaml')
    .option('--json', 'machine-readable output')
    .action(async (flags: ConfigFlags & { json?: boolean; shortLived?: boolean }) => {
      await run(flags, async (service) => {
        const views = await service.list({ shortLived: flags.shortLived });
        if (flags.json) return printJson(views);
        if (views.length === 0)
          return void process.stdout.write(
            'No keys yet: sluice keys create --name dev-app-local --env development\n',
          );
        process.stdout.write(`${keyTable(views)}\n`);
      });
    });

  withSettings(
    keys.command('update').description("change a key's limits, models or expiry").argument('<name>'),
  ).action(async (name: string, flags: SettingsFlags) => {
    await run(flags, async (service) => {
      const view = await service.update(name, settingsFrom(flags));
      if (flags.json) return printJson(view);
      process.stdout.write(`${keyTable([view])}\n`);
    });
  });

  for (const [verb, description] of [
    ['revoke', 'revoke a key at once'],
    ['rotate', 'replace a key’s secret; the old one stops working'],
  ] as const) {
    keys
      .command(verb)
      .description(description)
      .argument('<name>')
      .option('--config <path>', 'path to sluice.yaml')
      .option('--json', 'machine-readable output')
      .action(async (name: string, flags: ConfigFlags & { json?: boolean }) => {
        await run(flags, async (service) => {
          if (verb === 'revoke') {
            const wasActive = (await service.get(name)).status !== 'revoked';
            const view = await service.revoke(name);
            if (flags.json) return printJson(view);
            return void process.stdout.write(
              wasActive
                ? `Revoked ${view.name} (${view.hint}).\n`
                : `${view.name} (${view.hint}) was already revoked; nothing changed.\n`,
            );
          }
          const { key, view } = await service.rotate(name);
          if (flags.json) return printJson({ key, ...view });
          process.stdout.write(`Rotated ${view.name}. New secret, shown once:\n\n  ${key}\n`);
        });
      });
  }
  registerDeveloperCommands(keys);
}
