import { z } from 'zod';
import { batchesConfigSchema } from '../batches/config.js';
import { defaultCatalog } from '../catalog/catalog.js';
import { catalogOverridesSchema } from '../catalog/schema.js';
import { parseDuration } from '../keys/duration.js';
import { budgetsConfigSchema } from '../ledger/budget-config.js';
import { ledgerConfigSchema } from '../ledger/config.js';
import { limitsConfigSchema } from '../limits/config.js';
import { routingConfigSchema } from '../routing/config.js';

export const DEFAULT_ENVIRONMENTS = ['development', 'staging', 'production', 'ci'] as const;

/** Default naming rule for virtual keys: env-service-role, such as prod-backend-v1. */
export const DEFAULT_KEY_NAMING = {
  pattern: '^[a-z0-9]+(-[a-z0-9]+){2,}$',
  rule: 'at least three lowercase parts joined by "-" (env-service-role), e.g. prod-backend-v1',
};

/** Beside the default SQLite file; relative paths are taken from the working directory. */
export const DEFAULT_CATALOG_FILE = './sluice-catalog.json';

const positiveInt = z.number().int().positive();
/** A duration such as `1h` or `30m`, as milliseconds. */
const duration = z.string().transform((text, context) => {
  try {
    return parseDuration(text);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
const shortLivedSchema = z
  .strictObject({
    /** Lifetime of a short-lived key when the exchange names none (SLUICE_SHORT_LIVED_TTL). */
    defaultTtl: duration.prefault('1h'),
    /** The longest lifetime an exchange may ask for (SLUICE_SHORT_LIVED_MAX_TTL). */
    maxTtl: duration.prefault('12h'),
    /** Short-lived keys alive at once per credential. */
    maxActive: positiveInt.default(50),
  })
  .transform(({ defaultTtl, maxTtl, maxActive }) => ({
    defaultTtlMs: Math.min(defaultTtl, maxTtl),
    maxTtlMs: maxTtl,
    maxActive,
  }));
const routing = defaultCatalog().routingDefaults;

/** Far above what 128 allowed (a thousand streams at once), well within Node's raised file limit. */
export const DEFAULT_UPSTREAM_CONNECTIONS = 1024;

export const retrySchema = z.strictObject({
  /** Attempts in all, the first included. */
  maxAttempts: positiveInt.default(4),
  baseDelayMs: positiveInt.default(500),
  maxDelayMs: positiveInt.default(8000),
  /** No retry starts after this much time since the request arrived. */
  deadlineMs: positiveInt.default(60_000),
  /** A `retry-after` longer than this is not waited for: the client gets the 429 and decides. */
  maxRetryAfterMs: positiveInt.default(20_000),
});

// Unknown keys are refused (z.strictObject), so a typo in sluice.yaml stops start-up instead of being ignored.
/** max_tokens the gateway fills in when neither the request, its key nor the configuration sets one. */
export const DEFAULT_MAX_TOKENS = 1024;

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8787),
      bodyLimitBytes: positiveInt.default(32 * 1024 * 1024),
    })
    .default({ host: '127.0.0.1', port: 8787, bodyLimitBytes: 32 * 1024 * 1024 }),
  upstream: z
    .strictObject({
      url: z.url().default('https://api.anthropic.com'),
      timeoutMs: positiveInt.default(600_000),
      /**
       * Connections to the upstream at most. A stream holds one for its whole length, so this
       * bounds the concurrent streams; beyond it requests wait for a connection to come free.
       */
      connections: positiveInt.default(DEFAULT_UPSTREAM_CONNECTIONS),
      retry: retrySchema.default(retrySchema.parse({})),
      /** On 529, try these models in order (e.g. an Opus model falling back to Sonnet). Off unless set. */
      fallback: z.record(z.string(), z.array(z.string()).min(1)).default({}),
    })
    .default({
      url: 'https://api.anthropic.com',
      timeoutMs: 600_000,
      connections: DEFAULT_UPSTREAM_CONNECTIONS,
      retry: retrySchema.parse({}),
      fallback: {},
    }),
  database: z
    .strictObject({ url: z.string().default('sqlite:./sluice.db') })
    .default({ url: 'sqlite:./sluice.db' }),
  admin: z.strictObject({ token: z.string().min(16).optional() }).default({}),
  /** Environment the gateway runs in (ANTHROPIC_ENV); keys are created in it when none is named. */
  environment: z.string().default('development'),
  /** Per-environment upstream credentials, by the NAME of the variable that holds the key. */
  environments: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_-]*$/, 'environment names are lowercase'),
      z.strictObject({
        keyEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/, 'the name of an environment variable, e.g. ANTHROPIC_KEY_PRODUCTION'),
      }),
    )
    .default({}),
  keys: z
    .strictObject({
      naming: z.strictObject({ pattern: z.string(), rule: z.string() }).default(DEFAULT_KEY_NAMING),
      /** Short-lived keys bought with an exchange credential (Claude Code's apiKeyHelper). */
      shortLived: shortLivedSchema.prefault({}),
    })
    .prefault({}),
  /** The models `auto` routes to; by default the catalog's current ones. */
  models: z
    .strictObject({
      default: z.string().default(routing.fast),
      reasoning: z.string().default(routing.reasoning),
      critical: z.string().default(routing.critical),
    })
    .default({ default: routing.fast, reasoning: routing.reasoning, critical: routing.critical }),
  /**
   * How instances follow operator changes (docs/change-feed.md): the `changes` table is read every
   * `pollMs` (woken at once by LISTEN on PostgreSQL); every `refreshMs` keys and budgets are
   * reloaded in full anyway, the safety net should the feed stall.
   */
  changes: z
    .strictObject({
      pollMs: positiveInt.max(1000).default(50),
      refreshMs: positiveInt.default(30_000),
    })
    .default({ pollMs: 50, refreshMs: 30_000 }),
  /** max_tokens filled in when a request has none and its key sets no cap. */
  maxTokens: positiveInt.default(DEFAULT_MAX_TOKENS),
  log: z
    .strictObject({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info') })
    .default({ level: 'info' }),
  catalog: catalogOverridesSchema
    .extend({
      /** Where `sluice catalog update` installs a catalog and the gateway reads it (SLUICE_CATALOG_FILE). */
      file: z.string().min(1).default(DEFAULT_CATALOG_FILE),
      /** Where `sluice catalog update` fetches a newer catalog by default (SLUICE_CATALOG_URL). */
      updateUrl: z.url().optional(),
    })
    .prefault({}),
  // Sections of the stages that read them, validated with their own schemas.
  limits: limitsConfigSchema.optional(),
  routing: routingConfigSchema,
  budgets: budgetsConfigSchema.optional(),
  ledger: ledgerConfigSchema.optional(),
  batches: batchesConfigSchema.optional(),
  /**
   * OpenTelemetry export (docs/observability.md): off unless an OTLP/HTTP endpoint is given
   * (`OTEL_EXPORTER_OTLP_ENDPOINT`); spans and metrics follow the GenAI semantic conventions.
   */
  telemetry: z
    .strictObject({
      otlpEndpoint: z.url().optional(),
      /** Extra headers for the collector (e.g. an auth token), `OTEL_EXPORTER_OTLP_HEADERS` style. */
      headers: z.record(z.string(), z.string()).default({}),
      serviceName: z.string().min(1).default('sluice'),
      /** How often metrics are pushed. */
      metricsIntervalMs: positiveInt.default(15_000),
    })
    .prefault({}),
  /** Prometheus exposition at /metrics. */
  metrics: z
    .strictObject({
      /** Distinct keys that get per-key series; later keys count under "_other". */
      keyLabelLimit: positiveInt.default(200),
    })
    .prefault({}),
  /** Read by `sluice scan` (ignored paths). */
  scan: z.strictObject({ ignore: z.array(z.string()).default([]) }).optional(),
});

export type Config = z.infer<typeof configSchema>;

/** The resolved configuration plus the secrets read from the environment (kept out of `Config`). */
export interface LoadedConfig {
  config: Config;
  /** Upstream key per environment name; `*` is the default used where an environment has none. */
  upstreamKeys: Map<string, string>;
  warnings: string[];
  /** The environment as read: `.env` beneath the process environment. */
  env: NodeJS.ProcessEnv;
  /** `models` as configured, before retired ones were replaced (`config.models` holds what routing uses). */
  configuredModels: Config['models'];
  /** The Anthropic Admin API key (ANTHROPIC_ADMIN_KEY), for key audits only; never sent with API requests. */
  adminKey?: string;
}
