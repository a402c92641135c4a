import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  batchResults,
  cancelBatch,
  createBatch,
  deleteBatch,
  getBatch,
  listBatches,
  maxBatchBytes,
} from './batches.js';
import { controlPrefix, handleControl } from './control.js';
import { ApiError } from './errors.js';
import { collectBody, type Exchange, parseJson, sendError } from './http.js';
import { requestId } from './ids.js';
import { countTokens, createMessage } from './messages.js';
import { getModel, listModels } from './models.js';
import type { SimulatorState } from './state.js';
import { apiVersions } from './versions.js';

const supportedVersions = new Set<string>(apiVersions);

type Handler = (exchange: Exchange, body: unknown) => void | Promise<void>;

const BATCH_PATH = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/;

/** Which handler serves a method and path, whether it takes a JSON body, and its size limit. */
function route(
  method: string,
  path: string,
): { handler: Handler; body: boolean; limit?: number } | undefined {
  if (method === 'POST' && path === '/v1/messages') return { handler: createMessage, body: true };
  if (method === 'POST' && path === '/v1/messages/count_tokens') return { handler: countTokens, body: true };
  if (method === 'GET' && path === '/v1/models') return { handler: listModels, body: false };
  if (path === '/v1/messages/batches') {
    if (method === 'POST') return { handler: createBatch, body: true, limit: maxBatchBytes };
    if (method === 'GET') return { handler: listBatches, body: false };
  }
  const batch = BATCH_PATH.exec(path);
  if (batch) {
    const id = decodeURIComponent(batch[1]!);
    const tail = batch[2];
    if (method === 'GET' && tail === undefined) return { handler: (e) => getBatch(e, id), body: false };
    if (method === 'DELETE' && tail === undefined) return { handler: (e) => deleteBatch(e, id), body: false };
    if (method === 'POST' && tail === '/cancel') return { handler: (e) => cancelBatch(e, id), body: false };
    if (method === 'GET' && tail === '/results') return { handler: (e) => batchResults(e, id), body: false };
  }
  if (method === 'GET' && path.startsWith('/v1/models/')) {
    const id = decodeURIComponent(path.slice('/v1/models/'.length));
    return { handler: (exchange) => getModel(exchange, id), body: false };
  }
  return undefined;
}

/** The HTTP server, and a shutdown that also cuts stalled streams and idle keep-alive connections. */
export function createSimulatorServer(state: SimulatorState): { server: Server; shutdown(): Promise<void> } {
  let closing = false;
  // No Nagle delay: a response with many headers goes out in two writes, and waiting for the
  // client's delayed ACK between them would cap throughput at a few hundred requests a second.
  const server = createServer({ noDelay: true }, (req, res) => {
    void serve(state, req, res, () => closing);
  });
  // Longer than clients' idle timeouts, so a pooled connection is never closed under a request.
  server.keepAliveTimeout = 65_000;
  const shutdown = (): Promise<void> => {
    closing = true;
    return new Promise((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      server.closeAllConnections();
    });
  };
  return { server, shutdown };
}

function serve(
  state: SimulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  closing: () => boolean,
): void {
  const url = new URL(req.url ?? '/', 'http://simulator');
  const control = url.pathname.startsWith(controlPrefix);
  const exchange: Exchange = { req, res, url, requestId: requestId(), state, counted: !control };
  if (control) {
    handleControl(exchange).catch((error) => fail(exchange, error));
    return;
  }

  const { counters } = state;
  counters.received(`${req.method} ${url.pathname}`);
  counters.inFlight++;
  res.once('close', () => {
    counters.inFlight--;
    if (!res.writableFinished && !closing() && !res.destroyedByFault) counters.abortedByClient++;
  });
  try {
    const match = route(req.method ?? 'GET', url.pathname);
    if (!match) throw new ApiError(404, 'Not found');
    authenticate(state, req);
    checkVersion(req);
    if (!match.body) {
      // A body sent anyway (an SDK's empty JSON on cancel) is read and ignored.
      req.resume();
      run(exchange, match.handler, undefined);
      return;
    }
    collectBody(
      req,
      (error, text) => {
        if (error) {
          fail(exchange, error);
          return;
        }
        try {
          run(exchange, match.handler, parseJson(text));
        } catch (failure) {
          fail(exchange, failure);
        }
      },
      match.limit,
    );
  } catch (error) {
    fail(exchange, error);
  }
}

/** Runs a handler; most answer synchronously, those that wait (latency, delays) return a promise. */
function run(exchange: Exchange, handler: Handler, body: unknown): void {
  const pending = handler(exchange, body);
  if (pending) pending.catch((error) => fail(exchange, error));
}

function fail(exchange: Exchange, error: unknown): void {
  if (exchange.res.headersSent || exchange.res.destroyed) return;
  sendError(exchange, toApiError(error));
}

declare module 'node:http' {
  interface ServerResponse {
    /** Set when the simulator itself cut the connection (a reset fault), not the client. */
    destroyedByFault?: boolean;
  }
}

function authenticate(state: SimulatorState, req: IncomingMessage): void {
  const header = req.headers['x-api-key'];
  const authorization = req.headers.authorization;
  const key =
    (Array.isArray(header) ? header[0] : header) ??
    (authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined);
  if (!key) throw new ApiError(401, 'x-api-key header is required');
  const accepted = state.apiKeys ? state.apiKeys.has(key) : key.startsWith('sk-ant-');
  if (!accepted) throw new ApiError(401, 'invalid x-api-key');
}

function checkVersion(req: IncomingMessage): void {
  const version = req.headers['anthropic-version'];
  if (!version) throw new ApiError(400, 'anthropic-version: header is required');
  if (typeof version !== 'string' || !supportedVersions.has(version)) {
    throw new ApiError(400, `anthropic-version: invalid version ${String(version)}`);
  }
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  process.stderr.write(`sluice simulate: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return new ApiError(500, 'Internal server error');
}
