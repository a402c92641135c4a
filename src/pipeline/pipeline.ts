import { ApiError, errorBody } from './errors.js';
import { DrainCut } from './signal.js';
import type { Responder, Stage } from './stage.js';
import type { Call } from './types.js';

export interface Route {
  /** Stages before forwarding; any may refuse the call. */
  stages: Stage[];
  forward: (call: Call, responder: Responder) => Promise<void>;
}

/**
 * Runs one call through its stages and the forwarder, answers refusals in Anthropic's error
 * shape, and always ends with `account`, whatever happened on the way.
 */
export async function runCall(
  call: Call,
  responder: Responder,
  route: Route,
  account: (call: Call) => void,
): Promise<void> {
  try {
    for (const stage of route.stages) {
      const pending = stage.run(call);
      if (pending) await pending;
    }
    await route.forward(call, responder);
  } catch (error) {
    answerError(call, responder, error);
  } finally {
    call.finishedAt = performance.now();
    account(call);
  }
}

function answerError(call: Call, responder: Responder, error: unknown): void {
  const cut = call.signal.reason instanceof DrainCut;
  if (call.signal.aborted && !cut) {
    call.status ??= 499;
    call.errorType ??= 'client_closed';
    if (!responder.headersSent) responder.end();
    return;
  }
  if (cut) call.errorType ??= 'cut_at_shutdown';
  const apiError = cut
    ? new ApiError(503, (call.signal.reason as DrainCut).message)
    : error instanceof ApiError
      ? error
      : new ApiError(500, 'internal error in the gateway');
  if (!cut && !(error instanceof ApiError)) call.errorType = 'gateway_error';
  if (responder.headersSent) {
    // The answer had started (a stream): the client learns of the failure as Anthropic would say it.
    call.errorType ??= apiError.type;
    responder.end(`event: error\ndata: ${errorBody(apiError.type, apiError.message, call.id)}\n\n`);
    return;
  }
  call.status = apiError.status;
  call.errorType ??= apiError.type;
  const body = errorBody(apiError.type, apiError.message, call.id);
  responder.head(apiError.status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'request-id': call.id,
    'x-sluice-request-id': call.id,
    ...apiError.headers,
  });
  responder.end(body);
}
