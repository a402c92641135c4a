import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { Config } from '../config/schema.js';
import { parseDuration } from '../keys/duration.js';
import { EXCHANGE_PATH } from '../keys/exchange.js';
import { type ConfigFlags, loadForCommand, printJson } from './context.js';
import { run, type SettingsFlags, settingsFrom, withSettings } from './keys.js';
import { EXIT_ERROR } from './scan.js';

/** Where the helper script reads the developer's exchange credential by default. */
export const DEFAULT_CREDENTIAL_FILE = '$HOME/.config/sluice/credential';
const HELPER_SCRIPT_FILE = '~/.claude/sluice-key-helper.sh';

/** `alice@example.com` → `alice-example-com`: a developer's name as part of a key name. */
export function developerSlug(who: string): string {
  return who
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The gateway's URL as developers reach it: `--url`, else the configured listen address. */
function gatewayUrl(flagUrl: string | undefined, config: Config): string {
  if (flagUrl) return flagUrl.replace(/\/+$/, '');
  const host = ['0.0.0.0', '::'].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.server.port}`;
}

/**
 * How long Claude Code keeps a helper's key before running the helper again: below the key's
 * lifetime (by five minutes, or half of it for short ones), so it refreshes before expiry.
 */
export function helperTtlMs(keyTtlMs: number): number {
  return keyTtlMs - Math.min(300_000, Math.floor(keyTtlMs / 2));
}

/** The settings.json for a developer's key used as ANTHROPIC_AUTH_TOKEN. */
export function tokenSettings(url: string, key: string) {
  return {
    env: {
      ANTHROPIC_BASE_URL: url,
      ANTHROPIC_AUTH_TOKEN: key,
      CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
    },
  };
}

/**
 * The settings.json for short-lived keys: no ANTHROPIC_AUTH_TOKEN (Claude Code re-runs the
 * helper on a 401 only when it is unset), the helper's cache below the key's lifetime, and the
 * fast-mode check kept off api.anthropic.com, which would otherwise be shown the helper's key.
 */
export function helperSettings(url: string, keyTtlMs: number, helper: string) {
  return {
    apiKeyHelper: helper,
    env: {
      ANTHROPIC_BASE_URL: url,
      CLAUDE_CODE_API_KEY_HELPER_TTL_MS: String(helperTtlMs(keyTtlMs)),
      CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1',
      CLAUDE_CODE_SKIP_FAST_MODE_ORG_CHECK: '1',
    },
  };
}

/**
 * A POSIX sh apiKeyHelper: prints a short-lived key and nothing else. The credential is given to
 * curl on its standard input, never on its command line (where `ps` would show it).
 */
export function helperScript(url: string, ttl: string, credentialFile = DEFAULT_CREDENTIAL_FILE): string {
  return `#!/bin/sh
# Claude Code apiKeyHelper for Sluice: prints a short-lived key (${ttl}) bought with this
# developer's exchange credential, and nothing else. Made by: sluice keys helper-script
set -eu
url="\${SLUICE_URL:-${url}}"
credential_file="\${SLUICE_CREDENTIAL_FILE:-${credentialFile}}"
if [ -n "\${SLUICE_EXCHANGE_CREDENTIAL:-}" ]; then
  credential="$SLUICE_EXCHANGE_CREDENTIAL"
else
  credential="$(cat "$credential_file")"
fi
printf 'Authorization: Bearer %s\\n' "$credential" |
  curl --fail --silent --show-error --max-time 8 -X POST -H @- -H 'accept: text/plain' \\
    "$url${EXCHANGE_PATH}?ttl=${ttl}"
`;
}

/** Milliseconds as the shortest duration text that says them exactly (`1h`, `90m`, `45s`). */
function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

function ttlOption(value: string): string {
  try {
    parseDuration(value);
    return value;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `sluice keys create-developer`, `sluice keys exchange`, `sluice keys helper-script`. */
export function registerDeveloperCommands(keys: Command): void {
  withSettings(
    keys
      .command('create-developer')
      .description(
        "create a developer's key for Claude Code and print the settings.json to paste (--helper: short-lived keys)",
      )
      .argument('<who>', 'the developer, e.g. alice or alice@example.com'),
  )
    .option('--name <name>', 'key name (default: claude-code-<who>, with -helper for --helper)')
    .option('--env <environment>', 'environment the key belongs to (default: ANTHROPIC_ENV)')
    .option('--url <url>', 'the gateway as developers reach it (default: the configured host and port)')
    .option('--helper', "an exchange credential for Claude Code's apiKeyHelper, which buys short-lived keys")
    .option(
      '--ttl <duration>',
      'with --helper: lifetime of each short-lived key (default: keys.shortLived.defaultTtl)',
    )
    .action(
      async (
        who: string,
        flags: SettingsFlags & { name?: string; env?: string; url?: string; helper?: boolean; ttl?: string },
      ) => {
        const slug = developerSlug(who);
        // A plain Error: main prints it (an InvalidArgumentError thrown from an action is not printed).
        if (!slug) throw new Error(`"${who}" has no letters or digits to name a key after`);
        if (flags.ttl !== undefined) ttlOption(flags.ttl);
        await run(flags, async (service, loaded) => {
          const name = flags.name ?? `claude-code-${slug}${flags.helper ? '-helper' : ''}`;
          const environment = flags.env ?? loaded.config.environment;
          const { key, view } = await service.create({
            name,
            environment,
            ...settingsFrom(flags),
            developer: flags.developer ?? who,
            kind: flags.helper ? 'exchange' : 'standard',
          });
          const url = gatewayUrl(flags.url, loaded.config);
          const shortLived = loaded.config.keys.shortLived;
          const ttlMs = flags.ttl ? parseDuration(flags.ttl) : shortLived.defaultTtlMs;
          if (ttlMs > shortLived.maxTtlMs)
            process.stderr.write(
              `warning: --ttl ${flags.ttl} is above keys.shortLived.maxTtl; the gateway will refuse it\n`,
            );
          const ttl = flags.ttl ?? durationText(ttlMs);
          const helper = `sh ${HELPER_SCRIPT_FILE}`;
          const settings = flags.helper ? helperSettings(url, ttlMs, helper) : tokenSettings(url, key);
          if (flags.json) return printJson({ key, ...view, url, settings });
          const who_ = `${view.name} for developer ${view.developer} (${view.environment})`;
          if (!flags.helper) {
            process.stdout.write(
              `Created ${who_}. The secret is in what follows, shown once.\n\n` +
                `Paste into the developer's ~/.claude/settings.json (settings beat shell exports):\n\n` +
                `${JSON.stringify(settings, null, 2)}\n\n` +
                `or, for the shell:\n\n` +
                `export ANTHROPIC_BASE_URL=${url}\nexport ANTHROPIC_AUTH_TOKEN=${key}\n`,
            );
            return;
          }
          process.stdout.write(
            `Created the exchange credential ${who_}. It calls nothing itself: it buys short-lived keys of ${ttl}.\n\n` +
              `1. Give the developer this credential, shown once, to keep in ${DEFAULT_CREDENTIAL_FILE.replace('$HOME', '~')} (chmod 600):\n\n` +
              `${key}\n\n` +
              `2. Install the helper script:  sluice keys helper-script --url ${url} --ttl ${ttl} > ${HELPER_SCRIPT_FILE}\n\n` +
              `3. Paste into ~/.claude/settings.json (no ANTHROPIC_AUTH_TOKEN: Claude Code then runs the helper again on a 401):\n\n` +
              `${JSON.stringify(settings, null, 2)}\n\n` +
              `For the shell:\n\nexport ANTHROPIC_BASE_URL=${url}\nexport CLAUDE_CODE_API_KEY_HELPER_TTL_MS=${helperTtlMs(ttlMs)}\n`,
          );
        });
      },
    );

  keys
    .command('exchange')
    .description('buy a short-lived key with an exchange credential and print only the key (an apiKeyHelper)')
    .option('--url <url>', 'the gateway (default: ANTHROPIC_BASE_URL)')
    .option(
      '--credential-file <path>',
      'file holding the exchange credential (default: SLUICE_EXCHANGE_CREDENTIAL)',
    )
    .option(
      '--ttl <duration>',
      'lifetime of the key, e.g. 30m (default: the gateway’s keys.shortLived.defaultTtl)',
      ttlOption,
    )
    .action(async (flags: { url?: string; credentialFile?: string; ttl?: string }) => {
      const fail = (message: string) => {
        process.stderr.write(`sluice keys exchange: ${message}\n`);
        process.exitCode = EXIT_ERROR;
      };
      const url = (flags.url ?? process.env.ANTHROPIC_BASE_URL)?.replace(/\/+$/, '');
      if (!url) return fail('give the gateway with --url or ANTHROPIC_BASE_URL');
      let credential = process.env.SLUICE_EXCHANGE_CREDENTIAL;
      if (flags.credentialFile) {
        try {
          credential = readFileSync(flags.credentialFile, 'utf8').trim();
        } catch (error) {
          return fail(
            `cannot read ${flags.credentialFile}: ${(error as NodeJS.ErrnoException).code ?? error}`,
          );
        }
      }
      if (!credential)
        return fail('give the credential with --credential-file or SLUICE_EXCHANGE_CREDENTIAL');
      let response: Response;
      try {
        response = await fetch(
          `${url}${EXCHANGE_PATH}${flags.ttl ? `?ttl=${encodeURIComponent(flags.ttl)}` : ''}`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${credential}`, accept: 'text/plain' },
            signal: AbortSignal.timeout(8000),
          },
        );
      } catch (error) {
        return fail(`${url} did not answer (${(error as Error).message})`);
      }
      const text = await response.text();
      if (response.status !== 201) {
        let message = text;
        try {
          message = (JSON.parse(text) as { error: { message: string } }).error.message;
        } catch {}
        return fail(`${response.status}: ${message}`);
      }
      // Exactly the key: apiKeyHelper takes all of stdout as the credential.
      process.stdout.write(text.trim());
    });

  keys
    .command('helper-script')
    .description(
      "print a POSIX sh apiKeyHelper for Claude Code (uses curl; no Sluice needed on the developer's machine)",
    )
    .option('--url <url>', 'the gateway as developers reach it (default: the configured host and port)')
    .option('--ttl <duration>', 'lifetime of each short-lived key', ttlOption, '1h')
    .option(
      '--credential-file <path>',
      'where the script reads the exchange credential',
      DEFAULT_CREDENTIAL_FILE,
    )
    .option('--config <path>', 'path to sluice.yaml')
    .action(async (flags: ConfigFlags & { url?: string; ttl: string; credentialFile: string }) => {
      // With --url the configuration is not needed (nor read).
      const url = flags.url
        ? flags.url.replace(/\/+$/, '')
        : gatewayUrl(undefined, loadForCommand(flags).config);
      process.stdout.write(helperScript(url, flags.ttl, flags.credentialFile));
    });
}
