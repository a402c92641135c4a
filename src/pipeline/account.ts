import type { Logger } from 'pino';
import { formatUsd } from '../catalog/money.js';
import type { Call } from './types.js';

export interface AccountOptions {
  logger: Logger;
  /** Counts the call in the gateway's metrics. */
  metrics: { observe(call: Call): void };
  /** Sets call.cost from call.usage (nothing when there is no usage). */
  price?: (call: Call) => void;
  /** Persists one row per Messages call, off the request path. */
  record?: (call: Call) => void;
  /** Writes the request's log line, given its fields as JSON text (default: the logger at info level). */
  requestLog?: (fieldsJson: string) => void;
}

/**
 * The end of every call: reservations settled with the real usage, cost, the ledger row,
 * metrics and one structured log line. Never throws: accounting trouble must not hurt the answer.
 */
export function createAccount(options: AccountOptions): (call: Call) => void {
  const writeRequestLine =
    options.requestLog ?? ((fieldsJson) => options.logger.info(JSON.parse(fieldsJson), 'request'));
  return (call) => {
    try {
      if (call.usage && !call.cost) options.price?.(call);
      for (const hold of call.holds) hold.settle(call);
      if (call.path === '/v1/messages' && call.principal) options.record?.(call);
      options.metrics.observe(call);
      writeRequestLine(logLineJson(call));
    } catch (error) {
      options.logger.error({ err: error, requestId: call.id }, 'accounting failed');
    }
  };
}

/**
 * The request's log fields as JSON text, written field by field: every request has one, and
 * only the strings that come from outside (names, models, errors) need escaping.
 */
export function logLineJson(call: Call): string {
  const ms = (at: number | undefined) =>
    at === undefined ? undefined : String(Math.round((at - call.receivedAt) * 10) / 10);
  const text = (value: string | undefined) => (value === undefined ? undefined : JSON.stringify(value));
  const number = (value: number | undefined) =>
    value === undefined || !Number.isFinite(value) ? undefined : String(value);
  const upstream = call.upstream;
  const principal = call.principal;
  let json = `{"requestId":${JSON.stringify(call.id)}`;
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) json += `,"${name}":${value}`;
  };
  add('upstreamRequestId', text(upstream?.requestId));
  add('path', text(call.path));
  add('key', text(principal?.name));
  add('environment', text(principal?.environment));
  add('requestedModel', text(call.requestedModel));
  add('model', text(call.body?.model));
  add('route', call.route ? text(`${call.route.tier}:${call.route.score}`) : undefined);
  add('stream', call.body?.stream === true ? 'true' : 'false');
  add('status', number(call.status));
  add('upstreamStatus', number(upstream?.status));
  add('attempts', number(upstream?.attempts));
  add('fallbackFrom', text(upstream?.fallbackFrom));
  add('error', text(call.errorType));
  add('latencyMs', ms(call.finishedAt));
  add('ttftMs', ms(call.firstByteAt));
  add('usage', call.usage ? JSON.stringify(call.usage) : undefined);
  add('costUsd', call.cost?.priced ? `"${formatUsd(call.cost.pico)}"` : undefined);
  add('priced', call.cost ? String(call.cost.priced) : undefined);
  return `${json}}`;
}
