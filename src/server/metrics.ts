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

  observe(call: Call): void {
    const model = call.body?.model ?? '';
    this.requests.inc({
      path: call.path,
      status: String(call.status ?? 0),
      model,
      environment: call.principal?.environment ?? '',
    });
    if (call.finishedAt !== undefined) {
      this.latency.observe(
        { path: call.path, stream: String(call.body?.stream === true) },
        (call.finishedAt - call.receivedAt) / 1000,
      );
    }
    if (call.upstream && call.upstream.attempts > 1) this.retries.inc(call.upstream.attempts - 1);
    if (call.usage) {
      this.tokens.inc({ kind: 'input', model }, call.usage.input_tokens);
      this.tokens.inc({ kind: 'output', model }, call.usage.output_tokens);
      this.tokens.inc({ kind: 'cache_write', model }, call.usage.cache_creation_input_tokens);
      this.tokens.inc({ kind: 'cache_read', model }, call.usage.cache_read_input_tokens);
    }
  }
}
