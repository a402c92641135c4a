import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One bucket's free share, 0–1. */
export interface Headroom {
  credential: string;
  pool: string;
  speed: string;
  limit: 'requests' | 'input_tokens' | 'output_tokens';
  ratio: number;
}

/** The limits module's metrics, registered on the registry the caller passes (never the global one). */
export class LimitsMetrics {
  readonly estimateRatio: Histogram<'tokenizer'>;
  // Labels are bounded: credentials come from configuration, pools from the catalog, two speeds.
  readonly queueDepth: Gauge<'credential' | 'pool' | 'speed'>;
  readonly queueWait: Histogram<'pool' | 'speed' | 'priority' | 'outcome'>;
  readonly refusals: Counter<'reason'>;
  readonly upstreamRateLimited: Counter<'credential' | 'pool' | 'speed'>;
  readonly storeDegraded: Gauge;
  readonly headroom: Gauge<'credential' | 'pool' | 'speed' | 'limit'>;

  constructor(
    readonly registry: Registry = new Registry(),
    isStoreDegraded: () => boolean = () => false,
    headroom: () => Promise<Headroom[]> = async () => [],
  ) {
    const registers = [registry];
    this.estimateRatio = new Histogram({
      name: 'sluice_limits_input_estimate_ratio',
      help: 'Actual input tokens divided by the estimate made before sending',
      labelNames: ['tokenizer'],
      buckets: [0.5, 0.7, 0.8, 0.9, 0.95, 1, 1.05, 1.1, 1.25, 1.5, 2],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'sluice_limits_queue_depth',
      help: 'Requests waiting for upstream rate-limit capacity, per credential, pool and speed',
      labelNames: ['credential', 'pool', 'speed'],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'sluice_limits_queue_wait_seconds',
      help: 'Time spent waiting for admission, by outcome (admitted, refused, aborted)',
      labelNames: ['pool', 'speed', 'priority', 'outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.refusals = new Counter({
      name: 'sluice_limits_refusals_total',
      help: 'Requests refused by admission control, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.upstreamRateLimited = new Counter({
      name: 'sluice_limits_upstream_429_total',
      help: 'Upstream 429 responses seen despite admission control, per credential, pool and speed',
      labelNames: ['credential', 'pool', 'speed'],
      registers,
    });
    this.storeDegraded = new Gauge({
      name: 'sluice_limits_store_degraded',
      help: '1 while the shared rate-limit store is unreachable',
      registers,
      collect() {
        this.set(isStoreDegraded() ? 1 : 0);
      },
    });
    this.headroom = new Gauge({
      name: 'sluice_limits_headroom_ratio',
      help: 'Share of each upstream bucket (requests, input tokens, output tokens per minute) still free, per credential, pool and speed',
      labelNames: ['credential', 'pool', 'speed', 'limit'],
      registers,
      async collect() {
        this.reset();
        try {
          for (const h of await headroom())
            this.set({ credential: h.credential, pool: h.pool, speed: h.speed, limit: h.limit }, h.ratio);
        } catch {
          // A store outage shows as sluice_limits_store_degraded; the scrape itself must not fail.
        }
      },
    });
  }
}
