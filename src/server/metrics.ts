import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import { formatUsdExact } from '../catalog/money.js';
import type { Call } from '../pipeline/types.js';

const TOKEN_KINDS = ['input', 'output', 'cache_write', 'cache_read'] as const;

/** The label a key gets once the number of distinct keys with series of their own is reached. */
export const OTHER_KEYS = '_other';

export interface MetricsOptions {
  /** Node's own process metrics (CPU, memory, event loop); the gateway turns them on. */
  defaultMetrics?: boolean;
  /**
   * How many distinct keys get per-key series; later keys are counted under `_other`, so 10,000
   * keys cannot grow the exposition past a known size.
   */
  keyLabelLimit?: number;
}

interface PendingCount {
  labels: string[];
  count: number;
}

/**
 * The gateway's Prometheus metrics, on a registry of its own (other modules register theirs on
 * it). Names follow Prometheus conventions: units in the name, `_total` on counters, and label
 * values from bounded sets only (route templates, catalog models and pools, status classes,
 * configured environments, a capped set of key names) — never per-request ids.
 *
 * Per request, counts go into plain maps and are handed to prom-client when /metrics is scraped,
 * so a request pays for a few additions rather than for label hashing.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly keyLabelLimit: number;
  private readonly keysWithSeries = new Set<string>();
  private readonly pendingRequests = new Map<string, PendingCount>();
  private readonly pendingKeyRequests = new Map<string, PendingCount>();
  private readonly pendingTokens = new Map<string, number[]>();
  private readonly pendingCost = new Map<string, { labels: string[]; pico: bigint }>();
  private readonly pendingKeyCost = new Map<string, { labels: string[]; pico: bigint }>();
  /** Histogram children by label values, each histogram its own map (labels() hashes per call). */
  private readonly histogramChildren = new Map<
    Histogram<string>,
    Map<string, { observe(value: number): void }>
  >();

  private readonly requests = new Counter({
    name: 'sluice_requests_total',
    help: 'Requests answered, by route, status class, model, rate-limit pool and environment',
    labelNames: ['route', 'status_class', 'model', 'pool', 'environment'],
    registers: [this.registry],
    collect: () => this.flushRequests(),
  });
  private readonly keyRequests = new Counter({
    name: 'sluice_key_requests_total',
    help: `Requests answered per virtual key (key name; keys past the label limit count as "${OTHER_KEYS}")`,
    labelNames: ['key', 'environment', 'status_class'],
    registers: [this.registry],
    collect: () => this.flushKeyRequests(),
  });
  private readonly latency = new Histogram({
    name: 'sluice_request_duration_seconds',
    help: 'Time from request to the end of the answer',
    labelNames: ['route', 'stream'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly timeToFirstToken = new Histogram({
    name: 'sluice_time_to_first_token_seconds',
    help: 'Time from request to the first byte of a streamed answer, by model',
    labelNames: ['model'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
    registers: [this.registry],
  });
  private readonly upstreamResponses = new Counter({
    name: 'sluice_upstream_responses_total',
    help: 'Upstream answers per attempt, by HTTP status code (429, 529 and 5xx included) and pool',
    labelNames: ['code', 'pool'],
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'sluice_upstream_retries_total',
    help: 'Upstream attempts beyond the first',
    registers: [this.registry],
  });
  private readonly refusals = new Counter({
    name: 'sluice_refusals_total',
    help: "Errors answered by Sluice itself (never sent upstream, or not the upstream's answer), by error type",
    labelNames: ['type', 'route'],
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'sluice_tokens_total',
    help: 'Tokens by kind (input, output, cache_write, cache_read) and model',
    labelNames: ['kind', 'model'],
    registers: [this.registry],
    collect: () => this.flushTokens(),
  });
  private readonly cost = new Counter({
    name: 'sluice_cost_usd_total',
    help: 'Cost of answered requests in US dollars, priced from usage, by model and environment',
    labelNames: ['model', 'environment'],
    registers: [this.registry],
    collect: () => this.flushCost(),
  });
  private readonly keyCost = new Counter({
    name: 'sluice_key_cost_usd_total',
    help: `Cost in US dollars per virtual key (keys past the label limit count as "${OTHER_KEYS}")`,
    labelNames: ['key', 'environment'],
    registers: [this.registry],
    collect: () => this.flushKeyCost(),
  });
  private readonly routing = new Counter({
    name: 'sluice_routing_decisions_total',
    help: 'model "auto" and tier aliases resolved, by tier, what decided (classifier, rule, alias) and model',
    labelNames: ['tier', 'source', 'model'],
    registers: [this.registry],
  });

  constructor(options: MetricsOptions = {}) {
    this.keyLabelLimit = options.keyLabelLimit ?? 200;
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** `sluice_catalog_info{version} 1`, read at scrape time so a reloaded catalog shows at once. */
  trackCatalog(catalog: Catalog): void {
    const info = new Gauge({
      name: 'sluice_catalog_info',
      help: 'The catalog in force (version label); 1',
      labelNames: ['version'],
      registers: [this.registry],
      collect() {
        info.reset();
        info.set({ version: catalog.version }, 1);
      },
    });
  }

  /** One upstream answer (every attempt, retried or not). */
  observeAttempt(call: Call, status: number): void {
    this.upstreamResponses.inc({ code: String(status), pool: call.model?.pool ?? '' });
  }

  observe(call: Call): void {
    // Labels from fixed sets (known routes, catalog models), so clients cannot grow the series.
    const model = call.model?.id ?? (call.body?.model ? 'other' : '');
    // The route table's pattern: one series per endpoint, whatever ids the paths carry.
    const route = call.endpoint ?? 'other';
    const statusClass = statusClassOf(call.status ?? 0);
    const environment = call.principal?.environment ?? '';
    count(this.pendingRequests, [route, statusClass, model, call.model?.pool ?? '', environment]);
    const key = call.principal ? this.keyLabel(call.principal.name) : undefined;
    if (key !== undefined) count(this.pendingKeyRequests, [key, environment, statusClass]);

    if (call.finishedAt !== undefined) {
      const stream = call.body?.stream === true ? 'true' : 'false';
      this.histogram(this.latency, [route, stream]).observe((call.finishedAt - call.receivedAt) / 1000);
    }
    if (call.firstByteAt !== undefined && call.body?.stream === true && model !== '')
      this.histogram(this.timeToFirstToken, [model]).observe((call.firstByteAt - call.receivedAt) / 1000);
    if (call.upstream && call.upstream.attempts > 1) this.retries.inc(call.upstream.attempts - 1);
    if ((call.status ?? 0) >= 400 && !answeredByUpstream(call))
      this.refusals.inc({ type: call.errorType ?? 'api_error', route });
    if (call.route) this.routing.inc({ tier: call.route.tier, source: call.route.source, model });

    const usage = call.usage;
    if (usage) {
      let sums = this.pendingTokens.get(model);
      if (!sums) {
        sums = [0, 0, 0, 0];
        this.pendingTokens.set(model, sums);
      }
      sums[0]! += usage.input_tokens;
      sums[1]! += usage.output_tokens;
      sums[2]! += usage.cache_creation_input_tokens;
      sums[3]! += usage.cache_read_input_tokens;
    }
    const pico = call.cost?.pico;
    if (pico !== undefined && pico > 0n) {
      add(this.pendingCost, [model, environment], pico);
      if (key !== undefined) add(this.pendingKeyCost, [key, environment], pico);
    }
  }

  private keyLabel(name: string): string {
    if (this.keysWithSeries.has(name)) return name;
    if (this.keysWithSeries.size >= this.keyLabelLimit) return OTHER_KEYS;
    this.keysWithSeries.add(name);
    return name;
  }

  private histogram(histogram: Histogram<string>, labels: string[]): { observe(value: number): void } {
    let children = this.histogramChildren.get(histogram);
    if (!children) {
      children = new Map();
      this.histogramChildren.set(histogram, children);
    }
    const key = labels.join('\u0000');
    let child = children.get(key);
    if (!child) {
      child = histogram.labels(...labels);
      children.set(key, child);
    }
    return child;
  }

  private flushRequests(): void {
    for (const { labels, count } of this.pendingRequests.values()) {
      const [route, status_class, model, pool, environment] = labels as [
        string,
        string,
        string,
        string,
        string,
      ];
      this.requests.inc({ route, status_class, model, pool, environment }, count);
    }
    this.pendingRequests.clear();
  }

  private flushKeyRequests(): void {
    for (const { labels, count } of this.pendingKeyRequests.values()) {
      const [key, environment, status_class] = labels as [string, string, string];
      this.keyRequests.inc({ key, environment, status_class }, count);
    }
    this.pendingKeyRequests.clear();
  }

  private flushTokens(): void {
    for (const [model, sums] of this.pendingTokens) {
      TOKEN_KINDS.forEach((kind, i) => {
        if (sums[i]! > 0) this.tokens.inc({ kind, model }, sums[i]!);
      });
    }
    this.pendingTokens.clear();
  }

  private flushCost(): void {
    for (const { labels, pico } of this.pendingCost.values()) {
      const [model, environment] = labels as [string, string];
      this.cost.inc({ model, environment }, Number(formatUsdExact(pico)));
    }
    this.pendingCost.clear();
  }

  private flushKeyCost(): void {
    for (const { labels, pico } of this.pendingKeyCost.values()) {
      const [key, environment] = labels as [string, string];
      this.keyCost.inc({ key, environment }, Number(formatUsdExact(pico)));
    }
    this.pendingKeyCost.clear();
  }
}

function count(pending: Map<string, PendingCount>, labels: string[]): void {
  const key = labels.join('\u0000');
  const entry = pending.get(key);
  if (entry) entry.count++;
  else pending.set(key, { labels, count: 1 });
}

function add(pending: Map<string, { labels: string[]; pico: bigint }>, labels: string[], pico: bigint): void {
  const key = labels.join('\u0000');
  const entry = pending.get(key);
  if (entry) entry.pico += pico;
  else pending.set(key, { labels, pico });
}

/** `2xx`, `4xx`, …; `0xx` for a call that ended before any status (a cut connection). */
export function statusClassOf(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** Whether the error the client got is the upstream's own answer, passed through. */
function answeredByUpstream(call: Call): boolean {
  return call.upstream !== undefined && call.upstream.status >= 400 && call.upstream.status === call.status;
}
