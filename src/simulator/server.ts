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
import { deleteFile, fileContent, getFile, listFiles, uploadFile } from './files.js';
import { collectBody, type Exchange, parseJson, sendError } from './http.js';
import { requestId } from './ids.js';
import { countTokens, createMessage } from './messages.js';
import { getModel, listModels } from './models.js';
import { chatCompletion, textCompletion } from './openai.js';
import {
  createSkill,
  createVersion,
  deleteSkill,
  deleteVersion,
  getSkill,
  getVersion,
  listSkills,
  listVersions,
} from './skills.js';
import type { SimulatorState } from './state.js';
import { apiVersions } from './versions.js';

const supportedVersions = new Set<string>(apiVersions);

type Handler = (exchange: Exchange, body: unknown) => void | Promise<void>;

const BATCH_PATH = /^\/v1\/messages\/batches\/([^/]+)(\/cancel|\/results)?$/;

/** Which handler serves a method and path, whether it takes a JSON body (uploads read their own), and its size limit. */
function route(
  method: string,
  path: string,
): { handler: Handler; body: boolean; limit?: number } | undefined {
  if (method === 'POST' && path === '/v1/messages') return { handler: createMessage, body: true };
  if (method === 'POST' && path === '/v1/messages/count_tokens') return { handler: countTokens, body: true };
  if (method === 'POST' && path === '/v1/chat/completions') return { handler: chatCompletion, body: true };
  if (method === 'POST' && path === '/v1/complete') return { handler: textCompletion, body: true };
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
  const [, v1, resource, id, sub, subId, ...rest] = path.split('/');
  if (v1 !== 'v1' || rest.length > 0) return undefined;
  const at = (handler: Handler) => ({ handler, body: false });
  const decoded = (value: string) => decodeURIComponent(value);
  if (resource === 'files') {
    if (id === undefined) {
      if (method === 'POST') return at(uploadFile);
      if (method === 'GET') return at(listFiles);
      return undefined;
    }
    if (sub === undefined && method === 'GET') return at((exchange) => getFile(exchange, decoded(id)));
    if (sub === undefined && method === 'DELETE') return at((exchange) => deleteFile(exchange, decoded(id)));
    if (sub === 'content' && subId === undefined && method === 'GET')
      return at((exchange) => fileContent(exchange, decoded(id)));
    return undefined;
  }
  if (resource === 'skills') {
    if (id === undefined) {
      if (method === 'POST') return at(createSkill);
      if (method === 'GET') return at(listSkills);
      return undefined;
    }
    if (sub === undefined && method === 'GET') return at((exchange) => getSkill(exchange, decoded(id)));
    if (sub === undefined && method === 'DELETE') return at((exchange) => deleteSkill(exchange, decoded(id)));
    if (sub !== 'versions') return undefined;
    if (subId === undefined && method === 'POST')
      return at((exchange) => createVersion(exchange, decoded(id)));
    if (subId === undefined && method === 'GET') return at((exchange) => listVersions(exchange, decoded(id)));
    if (subId !== undefined && method === 'GET')
      return at((exchange) => getVersion(exchange, decoded(id), decoded(subId)));
    if (subId !== undefined && method === 'DELETE')
      return at((exchange) => deleteVersion(exchange, decoded(id), decoded(subId)));
  }
  return undefined;
}

/** The OpenAI-compatible endpoint is called by OpenAI clients, which send no `anthropic-version`. */
const unversioned = new Set(['/v1/chat/completions']);

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
    state.files.clear();
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
    if (url.pathname.startsWith('/v1/organizations/')) {
      authenticateAdmin(state, req);
      checkVersion(req);
      const served = state.organization.serve(exchange, url.pathname);
      if (!served) throw new ApiError(404, 'Not found');
      served.catch((error) => fail(exchange, error));
      return;
    }
    const match = route(req.method ?? 'GET', url.pathname);
    if (!match) throw new ApiError(404, 'Not found');
    exchange.apiKey = authenticate(state, req);
    if (!unversioned.has(url.pathname)) checkVersion(req);
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

function credentialOf(req: IncomingMessage): string {
  const header = req.headers['x-api-key'];
  const authorization = req.headers.authorization;
  const key =
    (Array.isArray(header) ? header[0] : header) ??
    (authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined);
  if (!key) throw new ApiError(401, 'x-api-key header is required');
  return key;
}

/** The API key a request is made with; admin keys and deactivated keys are refused. */
function authenticate(state: SimulatorState, req: IncomingMessage): string {
  const key = credentialOf(req);
  const accepted =
    (state.apiKeys ? state.apiKeys.has(key) : key.startsWith('sk-ant-')) &&
    !state.organization.isAdminKey(key) &&
    !state.organization.isDeactivated(key);
  if (!accepted) throw new ApiError(401, 'invalid x-api-key');
  return key;
}

/** The Admin API takes admin keys only. */
function authenticateAdmin(state: SimulatorState, req: IncomingMessage): void {
  if (!state.organization.isAdminKey(credentialOf(req))) throw new ApiError(401, 'invalid x-api-key');
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
