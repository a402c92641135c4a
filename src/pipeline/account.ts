import type { Logger } from 'pino';
import { formatUsd } from '../catalog/money.js';
import type { Call } from './types.js';

export interface AccountOptions {
  logger: Logger;
  /** Counts the call in the gateway's metrics. */
  metrics: { observe(call: Call): void };
  /** Sets call.cost from call.usage (nothing when there is no usage). */
  price?: (call: Call) => void;
  /** Persists one row per call of an endpoint whose usage is recorded, off the request path. */
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
      if (call.ledger && call.principal) options.record?.(call);
      options.metrics.observe(call);
      writeRequestLine(logLineJson(call));
    } catch (error) {
      options.logger.error({ err: error, requestId: call.id }, 'accounting failed');
    }
  };
}

/** The request's log fields as JSON text (one JSON.stringify: fields left undefined are omitted). */
export function logLineJson(call: Call): string {
  const ms = (at: number | undefined) =>
    at === undefined ? undefined : Math.round((at - call.receivedAt) * 10) / 10;
  return JSON.stringify({
    requestId: call.id,
    upstreamRequestId: call.upstream?.requestId,
    path: call.path,
    key: call.principal?.name,
    environment: call.principal?.environment,
    requestedModel: call.requestedModel,
    model: call.body?.model,
    route: call.route ? `${call.route.tier}:${call.route.score}` : undefined,
    stream: call.body?.stream === true,
    status: call.status,
    upstreamStatus: call.upstream?.status,
    attempts: call.upstream?.attempts,
    fallbackFrom: call.upstream?.fallbackFrom,
    error: call.errorType,
    latencyMs: ms(call.finishedAt),
    ttftMs: ms(call.firstByteAt),
    usage: call.usage,
    costUsd: call.cost ? formatUsd(call.cost.pico) : undefined,
    priced: call.cost?.priced,
  });
}
