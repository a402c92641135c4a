import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Catalog, catalogInForce } from '../catalog/catalog.js';
import { type Config, configSchema, type LoadedConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`configuration: ${field}: ${problem}. Fix: ${fix}`);
  }
}

const ANTHROPIC_KEY_SHAPE = /^sk-ant-(api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{20,}$/;
const DEFAULT_UPSTREAM_KEY = '*';

export interface LoadOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Path to sluice.yaml; default `./sluice.yaml` when it exists. */
  configPath?: string;
  /** Values from command-line flags; they win over everything else. */
  flags?: { host?: string; port?: number };
  /** The gateway needs an upstream key; other commands (keys, spend) do not. */
  requireUpstreamKey?: boolean;
  catalog?: Catalog;
}

/**
 * Builds the configuration from, in increasing precedence: defaults, sluice.yaml, `.env`, the
 * process environment (ANTHROPIC_* and SLUICE_* variables), and command-line flags.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const dotenvPath = resolve(cwd, '.env');
  const fileEnv = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  const env: NodeJS.ProcessEnv = { ...fileEnv, ...(options.env ?? process.env) };
  const warnings: string[] = [];

  const configPath = options.configPath ?? env.SLUICE_CONFIG ?? resolve(cwd, 'sluice.yaml');
  let fromFile: Record<string, unknown> = {};
  if (existsSync(configPath)) {
    try {
      fromFile = (parseYaml(readFileSync(configPath, 'utf8')) as Record<string, unknown>) ?? {};
    } catch (error) {
      throw new ConfigError(
        configPath,
        `not valid YAML (${(error as Error).message.split('\n')[0]})`,
        'correct the YAML syntax',
      );
    }
  } else if (options.configPath) {
    throw new ConfigError(
      '--config',
      `${configPath} does not exist`,
      'give the path of an existing sluice.yaml or leave it out',
    );
  }

  type Tree = { [key: string]: unknown };
  const merged = structuredClone(fromFile) as Tree;
  // Which environment variable set which field, so that an error names what the user wrote.
  const variables = new Map<string, string>();
  const set = (path: string[], value: unknown, variable?: string) => {
    if (value === undefined || value === '') return;
    if (variable !== undefined) variables.set(path.join('.'), variable);
    let node = merged;
    for (const part of path.slice(0, -1)) {
      const child = node[part];
      const next = (typeof child === 'object' && child !== null ? child : {}) as Tree;
      node[part] = next;
      node = next;
    }
    node[path.at(-1)!] = value;
  };
  const int = (name: string) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d+$/.test(raw.trim()))
      throw new ConfigError(name, `"${raw}" is not a whole number`, `set ${name} to a positive integer`);
    return Number(raw.trim());
  };
  set(['upstream', 'url'], env.SLUICE_UPSTREAM_URL, 'SLUICE_UPSTREAM_URL');
  set(['upstream', 'timeoutMs'], int('ANTHROPIC_TIMEOUT_MS'), 'ANTHROPIC_TIMEOUT_MS');
  set(['upstream', 'connections'], int('SLUICE_UPSTREAM_CONNECTIONS'), 'SLUICE_UPSTREAM_CONNECTIONS');
  set(['database', 'url'], env.SLUICE_DATABASE_URL, 'SLUICE_DATABASE_URL');
  set(['admin', 'token'], env.SLUICE_ADMIN_TOKEN, 'SLUICE_ADMIN_TOKEN');
  set(['environment'], env.ANTHROPIC_ENV, 'ANTHROPIC_ENV');
  set(['models', 'default'], env.ANTHROPIC_DEFAULT_MODEL, 'ANTHROPIC_DEFAULT_MODEL');
  set(['models', 'reasoning'], env.ANTHROPIC_REASONING_MODEL, 'ANTHROPIC_REASONING_MODEL');
  set(['models', 'critical'], env.ANTHROPIC_CRITICAL_MODEL, 'ANTHROPIC_CRITICAL_MODEL');
  set(['maxTokens'], int('ANTHROPIC_MAX_TOKENS'), 'ANTHROPIC_MAX_TOKENS');
  set(['log', 'level'], env.SLUICE_LOG_LEVEL, 'SLUICE_LOG_LEVEL');
  set(['catalog', 'unpriced'], env.SLUICE_UNPRICED, 'SLUICE_UNPRICED');
  set(['catalog', 'file'], env.SLUICE_CATALOG_FILE, 'SLUICE_CATALOG_FILE');
  set(['catalog', 'updateUrl'], env.SLUICE_CATALOG_URL, 'SLUICE_CATALOG_URL');
  set(['ledger', 'spoolDir'], env.SLUICE_LEDGER_SPOOL_DIR, 'SLUICE_LEDGER_SPOOL_DIR');
  set(['keys', 'shortLived', 'defaultTtl'], env.SLUICE_SHORT_LIVED_TTL, 'SLUICE_SHORT_LIVED_TTL');
  set(['keys', 'shortLived', 'maxTtl'], env.SLUICE_SHORT_LIVED_MAX_TTL, 'SLUICE_SHORT_LIVED_MAX_TTL');
  set(['changes', 'pollMs'], int('SLUICE_CHANGES_POLL_MS'), 'SLUICE_CHANGES_POLL_MS');
  set(['changes', 'refreshMs'], int('SLUICE_CHANGES_REFRESH_MS'), 'SLUICE_CHANGES_REFRESH_MS');
  set(['telemetry', 'otlpEndpoint'], env.OTEL_EXPORTER_OTLP_ENDPOINT, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  set(['telemetry', 'serviceName'], env.OTEL_SERVICE_NAME, 'OTEL_SERVICE_NAME');
  set(['telemetry', 'headers'], otlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS), 'OTEL_EXPORTER_OTLP_HEADERS');
  set(['server', 'host'], options.flags?.host);
  set(['server', 'port'], options.flags?.port);

  const config = validate(merged, variables);
  config.catalog.file = resolve(cwd, config.catalog.file);
  // Models are checked against the catalog the gateway will use: an installed update may add some.
  const catalog = options.catalog ?? catalogInForce(config.catalog, (problem) => warnings.push(problem));
  const configuredModels = { ...config.models };
  checkModels(config, catalog, warnings);

  const upstreamKeys = new Map<string, string>();
  const defaultKey = env.ANTHROPIC_AUTH_TOKEN || env.ANTHROPIC_API_KEY;
  if (defaultKey) upstreamKeys.set(DEFAULT_UPSTREAM_KEY, defaultKey.trim());
  for (const [name, { keyEnv }] of Object.entries(config.environments)) {
    const value = env[keyEnv];
    if (value) upstreamKeys.set(name, value.trim());
    else if (options.requireUpstreamKey && !defaultKey) {
      throw new ConfigError(
        `environments.${name}.keyEnv`,
        `${keyEnv} is not set`,
        `export ${keyEnv}=sk-ant-api03-… or set ANTHROPIC_AUTH_TOKEN`,
      );
    } else if (options.requireUpstreamKey) {
      warnings.push(
        `environments.${name}: ${keyEnv} is not set; the default upstream key (ANTHROPIC_AUTH_TOKEN) is used`,
      );
    }
  }
  if (options.requireUpstreamKey && upstreamKeys.size === 0) {
    throw new ConfigError(
      'ANTHROPIC_AUTH_TOKEN',
      'no upstream Anthropic key is set',
      'export ANTHROPIC_AUTH_TOKEN=sk-ant-api03-… (or ANTHROPIC_API_KEY), or put it in .env',
    );
  }
  for (const [environment, key] of upstreamKeys) {
    const source =
      environment === DEFAULT_UPSTREAM_KEY
        ? 'ANTHROPIC_AUTH_TOKEN'
        : config.environments[environment]!.keyEnv;
    // An Admin API key can create and delete keys: it must never travel with Messages requests.
    if (key.startsWith('sk-ant-admin')) {
      throw new ConfigError(
        source,
        'holds an Admin API key (sk-ant-admin01-…), which is never sent with API requests',
        'put the admin key in ANTHROPIC_ADMIN_KEY (used only by `sluice keys audit --upstream`) and an API key (sk-ant-api03-…) here',
      );
    }
    if (!ANTHROPIC_KEY_SHAPE.test(key)) {
      warnings.push(
        `${source} does not look like an Anthropic key (sk-ant-api03-…); requests may be refused upstream`,
      );
    }
  }
  const adminKey = env.ANTHROPIC_ADMIN_KEY?.trim() || undefined;
  return { config, upstreamKeys, warnings, env, configuredModels, adminKey };
}

/** `OTEL_EXPORTER_OTLP_HEADERS`: `name=value` pairs joined by commas, values percent-encoded. */
function otlpHeaders(raw: string | undefined): Record<string, string> | undefined {
  if (!raw) return undefined;
  const headers: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new ConfigError(
        'OTEL_EXPORTER_OTLP_HEADERS',
        `"${pair}" is not name=value`,
        'write name=value pairs joined by commas',
      );
    headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

/** The upstream key a virtual key of this environment is forwarded with. */
export function upstreamKeyFor(
  loaded: Pick<LoadedConfig, 'upstreamKeys'>,
  environment: string,
): string | undefined {
  return loaded.upstreamKeys.get(environment) ?? loaded.upstreamKeys.get(DEFAULT_UPSTREAM_KEY);
}

/** A short, stable id for an upstream credential (its environment), so limits can be kept per credential. */
export function upstreamCredentialId(
  loaded: Pick<LoadedConfig, 'upstreamKeys'>,
  environment: string,
): string {
  return loaded.upstreamKeys.has(environment) ? environment : DEFAULT_UPSTREAM_KEY;
}

function validate(raw: unknown, variables: Map<string, string>): Config {
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.join('.');
  const variable = variables.get(path);
  if (variable !== undefined) throw new ConfigError(variable, issue.message, fixFor(issue, variable));
  throw new ConfigError(path || '(top level)', issue.message, fixFor(issue));
}

function fixFor(issue: z.core.$ZodIssue, variable?: string): string {
  const field = variable ?? issue.path.join('.');
  if (issue.code === 'invalid_type') return `give ${field} a value of type ${issue.expected}`;
  if (issue.code === 'too_small')
    return issue.origin === 'string'
      ? `set ${field} to at least ${String(issue.minimum)} characters`
      : `set ${field} to at least ${String(issue.minimum)}`;
  if (issue.code === 'unrecognized_keys') return `remove or rename ${issue.keys.join(', ')}`;
  return 'see docs/configuration.md';
}

function checkModels(config: Config, catalog: Catalog, warnings: string[]): void {
  const now = new Date().toISOString().slice(0, 10);
  const sources = {
    default: 'ANTHROPIC_DEFAULT_MODEL',
    reasoning: 'ANTHROPIC_REASONING_MODEL',
    critical: 'ANTHROPIC_CRITICAL_MODEL',
  };
  for (const [tier, variable] of Object.entries(sources) as Array<[keyof Config['models'], string]>) {
    const name = config.models[tier];
    const model = catalog.model(name);
    if (!model) {
      throw new ConfigError(
        variable,
        `unknown model "${name}"`,
        `use a model from \`sluice catalog\`, e.g. ${catalog.models[0]?.id}`,
      );
    }
    const status = catalog.statusAt(model, new Date(`${now}T12:00:00Z`));
    if (status === 'retired') {
      // Routing never sends to a retired model: the API would answer every routed request 404.
      const instead = catalog.routingDefaults[tier === 'default' ? 'fast' : tier];
      config.models[tier] = instead;
      warnings.push(
        `${variable}: ${name} was retired${model.retiresAt ? ` on ${model.retiresAt}` : ''}; routing uses ${instead} instead`,
      );
    } else if (model.retiresAt) {
      warnings.push(`${variable}: ${name} is deprecated and retires on ${model.retiresAt}`);
    }
  }
}
