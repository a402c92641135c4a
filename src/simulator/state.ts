import { type Catalog, defaultCatalog } from '../catalog/catalog.js';
import type { RateLimits } from '../catalog/schema.js';
import { BatchStore, type BatchTiming } from './batches.js';
import { PromptCache } from './cache.js';
import { type Clock, ScaledClock, systemClock } from './clock.js';
import { Counters } from './counters.js';
import { FaultInjector, type FaultRates, type FaultSpec } from './faults.js';
import { FileStore } from './files.js';
import type { LatencyOption } from './latency.js';
import { Organization, type OrganizationSeed } from './organization.js';
import { type LimitSpec, limitsFromSpec, RateLimiter } from './rate-limits.js';
import { SkillStore } from './skills.js';
import { SpendTracker } from './spend.js';

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Accepted keys; without this list any key starting `sk-ant-` is accepted. */
  apiKeys?: string[];
  /** A tier of the catalog (evaluation, start, build, scale, custom); default: the roomiest. */
  tier?: string;
  /** Explicit limits, applied to every model class; win over `tier`. */
  limits?: RateLimits;
  /** Default 'none'. */
  latency?: LatencyOption;
  /** Length in tokens of generated text when max_tokens allows (default 32). */
  outputTokens?: number;
  /** Over this spend in a calendar month, requests get 429 enforced_spend_limit_reached. */
  monthlySpendCapUsd?: number;
  /** Mixed into every request's seed, and seeds random fault rates (default 0). */
  seed?: number;
  /** Round token `remaining` headers to the nearest thousand, as the service does (default true). */
  roundRateLimitHeaders?: boolean;
  /** Time source for buckets, cache TTLs, the spend month and Message Batches processing. */
  clock?: Clock;
  /**
   * Without a `clock`: simulated time runs this many times faster than the wall clock (3600 makes
   * an hour pass in a second), for batches that end, expire and age out within a test.
   */
  timeScale?: number;
  /** How long a Message Batch takes to process, and a cancellation to take effect (simulated time). */
  batches?: Partial<BatchTiming>;
  catalog?: Catalog;
  /**
   * The workspace's default `inference_geo`, reported in usage when a request does not set one
   * (default "global").
   */
  workspaceGeo?: string;
  /** Uploaded files can be downloaded (`downloadable: true`); the API only allows it for files its tools made. */
  uploadsDownloadable?: boolean;
  /** Faults in force from the start. */
  faults?: { script?: FaultSpec[]; rates?: FaultRates };
  /** The organization the Admin API shows: admin keys, more API keys and their past usage. */
  organization?: OrganizationSeed;
}

/** Everything a request handler reads or changes. */
export class SimulatorState {
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly apiKeys: Set<string> | undefined;
  readonly latency: LatencyOption;
  readonly outputTokens: number;
  readonly seed: number;
  readonly cache: PromptCache;
  readonly limiter: RateLimiter;
  readonly spend: SpendTracker;
  readonly faults: FaultInjector;
  /** Faults for Message Batches requests: a status fault makes that request's result `errored`. */
  readonly batchFaults: FaultInjector;
  readonly batches: BatchStore;
  readonly counters = new Counters();
  readonly files = new FileStore();
  readonly skills = new SkillStore();
  readonly uploadsDownloadable: boolean;
  readonly organizationId = '00000000-0000-4000-8000-000000000000';
  readonly workspaceGeo: string;
  readonly organization: Organization;

  constructor(options: SimulatorOptions = {}) {
    this.catalog = options.catalog ?? defaultCatalog();
    this.clock =
      options.clock ?? (options.timeScale !== undefined ? new ScaledClock(options.timeScale) : systemClock);
    this.apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
    this.latency = options.latency ?? 'none';
    this.outputTokens = options.outputTokens ?? 32;
    this.seed = options.seed ?? 0;
    this.workspaceGeo = options.workspaceGeo ?? 'global';
    this.uploadsDownloadable = options.uploadsDownloadable ?? false;
    this.cache = new PromptCache(this.clock);
    this.limiter = new RateLimiter(
      this.clock,
      limitsFromSpec(this.catalog, this.limitSpec(options)),
      options.roundRateLimitHeaders ?? true,
    );
    this.spend = new SpendTracker(this.catalog, this.clock, options.monthlySpendCapUsd);
    this.faults = new FaultInjector(this.seed);
    this.organization = new Organization(options.apiKeys ?? [], options.organization ?? {}, () =>
      this.clock.now(),
    );
    this.batchFaults = new FaultInjector(this.seed + 1);
    this.batches = new BatchStore(options.batches);
    if (options.faults?.script) this.faults.script(options.faults.script);
    if (options.faults?.rates) this.faults.setRates(options.faults.rates);
  }

  setLimits(spec: LimitSpec): void {
    this.limiter.setLimits(limitsFromSpec(this.catalog, spec));
  }

  /** Counters, faults, cache, buckets and spend back to their initial state. */
  resetAll(): void {
    this.counters.reset();
    this.faults.clear();
    this.batchFaults.clear();
    this.cache.clear();
    this.limiter.reset();
    this.spend.reset();
    this.files.clear();
    this.skills.clear();
  }

  private limitSpec(options: SimulatorOptions): LimitSpec | undefined {
    if (options.limits) return options.limits;
    return options.tier ? { tier: options.tier } : undefined;
  }
}
