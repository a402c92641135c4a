import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import type { Call } from '../pipeline/types.js';

const TOKEN_KINDS = ['input', 'output', 'cache_write', 'cache_read'] as const;

/**
 * The gateway's Prometheus metrics, on a registry of its own (other modules register theirs on
 * it). Per request, counts go into plain maps; they are handed to prom-client when /metrics is
 * scraped, so a request pays for a few additions rather than for label hashing.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly pendingRequests = new Map<string, { labels: string[]; count: number }>();
  private readonly pendingTokens = new Map<string, number[]>();
  private readonly latencyChildren = new Map<string, { observe(value: number): void }>();

  private readonly requests = new Counter({
    name: 'sluice_requests_total',
    help: 'Requests answered, by path, status and model',
    labelNames: ['path', 'status', 'model', 'environment'],
    registers: [this.registry],
    collect: () => this.flushRequests(),
  });
  private readonly latency = new Histogram({
    name: 'sluice_request_duration_seconds',
    help: 'Time from request to the end of the answer',
    labelNames: ['path', 'stream'],
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'sluice_upstream_retries_total',
    help: 'Upstream attempts beyond the first',
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'sluice_tokens_total',
    help: 'Tokens by kind (input, output, cache_write, cache_read) and model',
    labelNames: ['kind', 'model'],
    registers: [this.registry],
    collect: () => this.flushTokens(),
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
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

  observe(call: Call): void {
    // Labels from fixed sets (known routes, catalog models), so clients cannot grow the series.
    const model = call.model?.id ?? (call.body?.model ? 'other' : '');
    // The route table's pattern: one series per endpoint, whatever ids the paths carry.
    const path = call.endpoint ?? 'other';
    const labels = [path, String(call.status ?? 0), model, call.principal?.environment ?? ''];
    const key = labels.join('\u0000');
    const pending = this.pendingRequests.get(key);
    if (pending) pending.count++;
    else this.pendingRequests.set(key, { labels, count: 1 });

    if (call.finishedAt !== undefined) {
      const stream = call.body?.stream === true ? 'true' : 'false';
      const latencyKey = `${path}\u0000${stream}`;
      let child = this.latencyChildren.get(latencyKey);
      if (!child) {
        child = this.latency.labels(path, stream);
        this.latencyChildren.set(latencyKey, child);
      }
      child.observe((call.finishedAt - call.receivedAt) / 1000);
    }
    if (call.upstream && call.upstream.attempts > 1) this.retries.inc(call.upstream.attempts - 1);

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
  }

  private flushRequests(): void {
    for (const { labels, count } of this.pendingRequests.values()) {
      const [path, status, model, environment] = labels as [string, string, string, string];
      this.requests.inc({ path, status, model, environment }, count);
    }
    this.pendingRequests.clear();
  }

  private flushTokens(): void {
    for (const [model, sums] of this.pendingTokens) {
      TOKEN_KINDS.forEach((kind, i) => {
        if (sums[i]! > 0) this.tokens.inc({ kind, model }, sums[i]!);
      });
    }
    this.pendingTokens.clear();
  }
}
