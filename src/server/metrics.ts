import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Call } from '../pipeline/types.js';

/** The gateway's Prometheus metrics, on a registry of its own (other modules register theirs on it). */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'sluice_requests_total',
    help: 'Requests answered, by path, status and model',
    labelNames: ['path', 'status', 'model', 'environment'],
    registers: [this.registry],
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
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  // Label children by their values, so a request costs map lookups instead of label hashing.
  private readonly children = new Map<string, { inc(n?: number): void; observe(n: number): void }>();

  private child(metric: 'requests' | 'latency' | 'tokens', ...values: string[]) {
    const key = `${metric}\u0000${values.join('\u0000')}`;
    let found = this.children.get(key);
    if (!found) {
      const labelled = this[metric].labels(...values) as { inc(n?: number): void; observe(n: number): void };
      found = labelled;
      this.children.set(key, found);
    }
    return found;
  }

  observe(call: Call): void {
    // Labels from fixed sets (known routes, catalog models), so clients cannot grow the series.
    const model = call.model?.id ?? (call.body?.model ? 'other' : '');
    const path = routeLabel(call.path);
    this.child('requests', path, String(call.status ?? 0), model, call.principal?.environment ?? '').inc();
    if (call.finishedAt !== undefined) {
      this.child('latency', path, String(call.body?.stream === true)).observe(
        (call.finishedAt - call.receivedAt) / 1000,
      );
    }
    if (call.upstream && call.upstream.attempts > 1) this.retries.inc(call.upstream.attempts - 1);
    const usage = call.usage;
    if (usage) {
      this.child('tokens', 'input', model).inc(usage.input_tokens);
      this.child('tokens', 'output', model).inc(usage.output_tokens);
      this.child('tokens', 'cache_write', model).inc(usage.cache_creation_input_tokens);
      this.child('tokens', 'cache_read', model).inc(usage.cache_read_input_tokens);
    }
  }
}

function routeLabel(path: string): string {
  if (path === '/v1/messages' || path === '/v1/messages/count_tokens' || path === '/v1/models') return path;
  return path.startsWith('/v1/models/') ? '/v1/models/{id}' : 'other';
}
