import { displayUsd, formatUsd, usdToPico } from '../catalog/money.js';
import type { Clock, ThresholdEvent } from './budget-enforcer.js';
import { describeBudget } from './budget-store.js';
import { hourlySpend } from './queries.js';
import { type AnyDb, moneyDb } from './tables.js';
import { postWebhook, type WebhookOptions, type WebhookResult } from './webhook.js';

const HOUR_MS = 3_600_000;

/** pino's shape, so the server's logger can be passed as it is. */
export interface AlertLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AnomalySettings {
  /** Alert when the last hour's spend exceeds this multiple of the trailing hourly average. */
  multiple: number;
  /** Hours before the last one that make the average. */
  trailingHours: number;
  /** No anomaly alert below this hourly spend (USD), however quiet the trailing hours were. */
  minHourlyUsd: string;
}

export const DEFAULT_ANOMALY: AnomalySettings = { multiple: 3, trailingHours: 24, minHourlyUsd: '1' };

export interface AnomalyEvent {
  lastHourPico: bigint;
  averagePico: bigint;
  multiple: number;
  hourStart: number;
}

/** The webhook payload, version 1 (documented in docs/change-feed.md). */
export interface AlertMessage {
  version: typeof ALERT_PAYLOAD_VERSION;
  /** Slack (and most chat webhooks) show this field. */
  text: string;
  alert: Record<string, unknown>;
}

export interface AlerterOptions {
  /** Records alerts sent, so each goes out once per window and threshold across restarts and instances. */
  db?: AnyDb;
  webhookUrl?: string;
  webhook?: WebhookOptions;
  logger?: AlertLogger;
  clock?: Clock;
  anomaly?: Partial<AnomalySettings>;
}

const consoleLogger: AlertLogger = {
  warn: (fields, message) => console.warn(message, fields),
  error: (fields, message) => console.error(message, fields),
};

/** Sends budget and anomaly alerts to the log and a webhook, each once. */
export class Alerter {
  private readonly logger: AlertLogger;
  private readonly clock: Clock;
  private readonly anomalySettings: AnomalySettings;
  private readonly pending = new Set<Promise<unknown>>();
  /** Alerts go out one after another, so a 50 % alert never arrives after the 80 % one. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly delivered: WebhookResult[] = [];

  constructor(private readonly options: AlerterOptions = {}) {
    this.logger = options.logger ?? consoleLogger;
    this.clock = options.clock ?? Date.now;
    this.anomalySettings = { ...DEFAULT_ANOMALY, ...options.anomaly };
  }

  /** Hands a threshold crossing over (the enforcer's `onThreshold`); delivery happens in the background. */
  readonly budgetThreshold = (event: ThresholdEvent): void => {
    this.track(this.sendThreshold(event));
  };

  /** Sends an alert composed elsewhere (a runaway guard's trip); delivery happens in the background. */
  readonly notify = (message: AlertMessage, logLine: string): void => {
    this.track(this.send(message, logLine));
  };

  /** Compares the last hour with the trailing average and alerts once per hour when it is out of line. */
  async checkAnomaly(): Promise<AnomalyEvent | undefined> {
    if (!this.options.db) return undefined;
    const settings = this.anomalySettings;
    const now = this.clock();
    const lastStart = now - HOUR_MS;
    const trailingStart = lastStart - settings.trailingHours * HOUR_MS;
    const sum = (m: Map<number, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n);
    const last = sum(await hourlySpend(this.options.db, lastStart, now));
    const trailing = sum(await hourlySpend(this.options.db, trailingStart, lastStart));
    const average = trailing / BigInt(settings.trailingHours);
    const multipleTimesTen = BigInt(Math.round(settings.multiple * 10));
    if (
      average === 0n ||
      last < usdToPico(settings.minHourlyUsd) ||
      last * 10n <= average * multipleTimesTen
    ) {
      return undefined;
    }
    const event: AnomalyEvent = {
      lastHourPico: last,
      averagePico: average,
      multiple: settings.multiple,
      hourStart: Math.floor(now / HOUR_MS) * HOUR_MS,
    };
    if (!(await this.claim('anomaly', event.hourStart, 0))) return undefined;
    await this.send(anomalyMessage(event), 'spend anomaly');
    return event;
  }

  /** Runs the anomaly check every `intervalMs`; returns a function that stops it. */
  startAnomalyChecks(intervalMs = 5 * 60_000): () => void {
    const timer = setInterval(() => {
      this.track(
        this.checkAnomaly().catch((error) => this.logger.error({ err: error }, 'spend anomaly check failed')),
      );
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Waits for alerts still being delivered (graceful stop). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error) => this.logger.error({ err: error }, 'alert failed'));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private async sendThreshold(event: ThresholdEvent): Promise<void> {
    if (!(await this.claim(event.budget.id, event.windowStart, event.threshold))) return;
    await this.send(thresholdMessage(event), 'budget threshold reached');
  }

  private send(message: AlertMessage, logLine: string): Promise<void> {
    const next = this.queue.then(() => this.deliver(message, logLine));
    this.queue = next.catch(() => {});
    return next;
  }

  private async deliver(message: AlertMessage, logLine: string): Promise<void> {
    this.logger.warn({ alert: message.alert }, `${logLine}: ${message.text}`);
    if (!this.options.webhookUrl) return;
    const result = await postWebhook(this.options.webhookUrl, message, this.options.webhook);
    this.delivered.push(result);
    if (!result.delivered) {
      this.logger.error(
        { attempts: result.attempts, status: result.status, error: result.error },
        'alert webhook not delivered',
      );
    }
  }

  /** True for the one caller that records this alert first. */
  private async claim(budgetId: string, windowStart: number, threshold: number): Promise<boolean> {
    if (!this.options.db) return true;
    const result = await moneyDb(this.options.db)
      .insertInto('budget_alerts')
      .values({ budget_id: budgetId, window_start: windowStart, threshold, sent_at: this.clock() })
      .onConflict((conflict) => conflict.columns(['budget_id', 'window_start', 'threshold']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
}

/** The version of the webhook payload (docs/change-feed.md); raised when a field changes meaning. */
export const ALERT_PAYLOAD_VERSION = 1;

export function thresholdMessage(event: ThresholdEvent): AlertMessage {
  const { budget } = event;
  const resets =
    event.windowEnd === null ? 'it never resets' : `it resets at ${new Date(event.windowEnd).toISOString()}`;
  const inFlight =
    event.reservedPico > 0n ? `, ${displayUsd(event.reservedPico)} held by requests in flight` : '';
  const text = event.refused
    ? `Sluice: the ${describeBudget(budget)} is exhausted and requests are refused (${displayUsd(event.spentPico)} spent${inFlight}); ${resets}.`
    : `Sluice: ${event.threshold}% of the ${describeBudget(budget)} used (${displayUsd(event.spentPico)} spent${inFlight}); ${resets}.`;
  return {
    version: ALERT_PAYLOAD_VERSION,
    text,
    alert: {
      kind: event.refused ? 'budget_exhausted' : 'budget_threshold',
      budget: budget.id,
      budget_name: describeBudget(budget),
      scope: budget.scope,
      // Names first; the key's id as a second field (an environment is its name).
      subject: budget.scope === 'global' ? null : (budget.subjectName ?? budget.subject),
      subject_id: budget.scope === 'key' ? budget.subject : null,
      window: budget.window,
      threshold: event.threshold,
      limit_usd: formatUsd(budget.limitPico, 6),
      spent_usd: formatUsd(event.spentPico, 6),
      reserved_usd: formatUsd(event.reservedPico, 6),
      window_start: new Date(event.windowStart).toISOString(),
      resets_at: event.windowEnd === null ? null : new Date(event.windowEnd).toISOString(),
    },
  };
}

export function anomalyMessage(event: AnomalyEvent): AlertMessage {
  return {
    version: ALERT_PAYLOAD_VERSION,
    text:
      `Sluice: spend anomaly, $${formatUsd(event.lastHourPico, 2)} in the last hour against an hourly average of ` +
      `$${formatUsd(event.averagePico, 4)} (alert above ${event.multiple}×).`,
    alert: {
      kind: 'spend_anomaly',
      last_hour_usd: formatUsd(event.lastHourPico, 6),
      hourly_average_usd: formatUsd(event.averagePico, 6),
      multiple: event.multiple,
      hour: new Date(event.hourStart).toISOString(),
    },
  };
}
