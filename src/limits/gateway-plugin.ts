import type { IncomingHttpHeaders } from 'node:http';
import type { Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import { upstreamCredentialId } from '../config/load.js';
import type { LoadedConfig } from '../config/schema.js';
import type { Reserve } from '../pipeline/admit.js';
import { ApiError } from '../pipeline/errors.js';
import type { Call, Hold, Priority } from '../pipeline/types.js';
import type { AdminRoute } from '../server/admin.js';
import type { Clock } from './clock.js';
import { type LimitsConfig, limitsConfigSchema, limitsFromEnvironment } from './config.js';
import { type Admission, Limiter, type Refusal } from './limiter.js';
import type { LimitsLogger } from './logger.js';
import { requestSpeed } from './speed.js';
import type { BucketStore } from './store.js';
import { createBucketStore } from './stores.js';

/** Upstream limits from `sluice serve --tier/--rpm/--itpm/--otpm`; they win over SLUICE_* and sluice.yaml. */
export interface LimitFlags {
  tier?: string;
  rpm?: number;
  itpm?: number;
  otpm?: number;
}

export interface LimitsPluginOptions {
  loaded: LoadedConfig;
  catalog: Catalog;
  registry: Registry;
  logger: LimitsLogger;
  flags?: LimitFlags;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** Settings over the configuration's `limits:` section (tests, benchmarks). */
  overrides?: Partial<LimitsConfig>;
  /**
   * In-memory buckets held by another process (the primary of `sluice serve --workers`), used
   * instead of this process's own when the configuration keeps buckets in memory.
   */
  memoryBuckets?: BucketStore;
}

/** The gateway's rate-limit parts: an admit-stage reservation, header learning, an admin route. */
export interface LimitsPlugin {
  limiter: Limiter;
  reserve: Reserve;
  observe: (call: Call, status: number, headers: IncomingHttpHeaders) => void;
  adminRoutes: AdminRoute[];
  close(): Promise<void>;
}

/** The limits settings in force: sluice.yaml's `limits:`, then SLUICE_TIER / SLUICE_RPM…, then flags. */
export function resolveLimitsConfig(
  section: unknown,
  flags: LimitFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<LimitsConfig> = {},
): LimitsConfig {
  const fromFile = limitsConfigSchema.parse(section ?? {});
  const withEnv = limitsFromEnvironment(fromFile, env);
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return limitsConfigSchema.parse({ ...withEnv, ...given, ...overrides });
}

export async function createLimitsPlugin(options: LimitsPluginOptions): Promise<LimitsPlugin> {
  const config = resolveLimitsConfig(
    (options.loaded.config as { limits?: unknown }).limits,
    options.flags,
    options.env,
    options.overrides,
  );
  const store =
    config.store.backend === 'memory' && options.memoryBuckets
      ? options.memoryBuckets
      : await createBucketStore(config.store, { clock: options.clock, logger: options.logger });
  const limiter = new Limiter({
    config,
    store,
    catalog: options.catalog,
    clock: options.clock,
    registry: options.registry,
    logger: options.logger,
  });
  const noHold: Hold = { settle: () => undefined };
  const reserve: Reserve = (call) => {
    const principal = call.principal;
    const model = call.model;
    // Without a known model there is no pool to limit: the upstream answers such requests itself.
    if (!principal || !model) return noHold;
    const estimatedInputTokens =
      call.estimatedInputTokens ?? limiter.estimateInputTokens(call.body, model.tokenizer);
    call.estimatedInputTokens = estimatedInputTokens;
    const result = limiter.admit({
      credentialId: upstreamCredentialId(options.loaded, principal.environment),
      pool: model.pool,
      speed: requestSpeed(options.catalog, model, call.body.speed),
      tokenizer: model.tokenizer,
      keyId: principal.keyId,
      environment: principal.environment,
      quotas: principal.quotas,
      priority: priorityOf(call),
      estimatedInputTokens,
      maxTokens: call.body.max_tokens ?? 0,
      signal: call.signal,
    });
    const hold = (outcome: Admission | Refusal): Hold => {
      if (!outcome.admitted)
        throw new ApiError(outcome.status, outcome.message, outcome.headers, outcome.errorType);
      return new AdmissionHold(outcome);
    };
    return result instanceof Promise ? result.then(hold) : hold(result);
  };

  return {
    limiter,
    reserve,
    observe: (call, status, headers) => {
      // The admission travels with the call, as its hold (no side table for the GC to trace).
      for (const hold of call.holds)
        if (hold instanceof AdmissionHold) void hold.admission.observeResponse(headers, status);
    },
    adminRoutes: [
      {
        method: 'GET',
        pattern: /^\/admin\/limits$/,
        handle: async () => ({ status: 200, body: await limiter.snapshot() }),
      },
    ],
    async close() {
      limiter.close();
      await store.close();
    },
  };
}

/** An explicit `x-sluice-priority` header wins; otherwise the key's default. */
function priorityOf(call: Call): Priority {
  const header = call.headers['x-sluice-priority'];
  if (header === 'batch' || header === 'interactive') return header;
  return call.principal?.priority ?? call.priority;
}

/** The rate-limit admission of a call, settled with its usage when it ends. */
class AdmissionHold implements Hold {
  constructor(readonly admission: Admission) {}

  settle(ended: Call): void {
    if (ended.usage) void this.admission.settle(ended.usage);
    // Upstream answered without usage (an error): the request counted, its tokens did not.
    else if (ended.upstream) void this.admission.settle(NO_USAGE);
    else void this.admission.release();
  }
}

const NO_USAGE = {
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};
