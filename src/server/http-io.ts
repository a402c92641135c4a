import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Readable, Transform } from 'node:stream';
import { ApiError } from '../pipeline/errors.js';
import type { Responder } from '../pipeline/stage.js';

/**
 * Reads a request body up to `limit` bytes; a larger one is refused with 413 before it is read
 * whole. Plain listeners rather than an async iterator: the body usually comes in the same read
 * as the head, and the iterator's machinery cost more than reading it.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else {
        stop();
        reject(tooLarge(limit));
      }
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => onError(new Error('the client closed the connection before the body was read'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `request body exceeds the ${Math.round(limit / 1024 / 1024)} MB limit`);
}

/**
 * Deepest nesting of arrays and objects accepted in a JSON body. Far beyond what any request
 * needs (tool schemas nest a few levels), and shallow enough that code walking the body
 * recursively (token estimates, routing, JSON.stringify) never runs out of stack.
 */
export const MAX_JSON_DEPTH = 256;

export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new ApiError(400, 'request body is empty: a JSON object is required');
  if (jsonDepthExceeds(raw, MAX_JSON_DEPTH))
    throw new ApiError(400, `request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ApiError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;

/**
 * Whether the JSON text nests deeper than `limit`, read from the bytes (brackets inside strings
 * do not count). A body with fewer opening brackets than the limit cannot, and most bodies are
 * settled by that count, found with the native indexOf.
 */
export function jsonDepthExceeds(raw: Buffer, limit: number): boolean {
  let opening = 0;
  for (const mark of [OPEN_BRACE, OPEN_BRACKET]) {
    for (let at = raw.indexOf(mark); at !== -1 && opening <= limit; at = raw.indexOf(mark, at + 1)) opening++;
  }
  if (opening <= limit) return false;
  let depth = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === 34 /* " */) {
      for (i++; i < raw.length && raw[i] !== 34; i++) if (raw[i] === 92 /* \ */) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * A Responder over Node's ServerResponse, with backpressure. A class, not an object literal with
 * a getter: V8 gives each such literal its own accessor pair in the old generation, which keeps
 * the response (and all it reaches) alive through young-generation collections.
 */
class HttpResponder implements Responder {
  constructor(private readonly res: ServerResponse) {}

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  head(status: number, headers: Record<string, string | string[]>): void {
    this.res.writeHead(status, headers);
  }

  write(chunk: Buffer | string): boolean {
    // A client that went away aborts the call through its signal; until then, keep going.
    return this.res.destroyed || this.res.write(chunk);
  }

  drained(): Promise<void> {
    const res = this.res;
    if (res.destroyed) return Promise.resolve();
    // Both listeners go as soon as either fires: a long stream waits for drain many times.
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  end(chunk?: Buffer | string): void {
    if (!this.res.destroyed) this.res.end(chunk);
  }
}

export function httpResponder(res: ServerResponse): Responder {
  return new HttpResponder(res);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/**
 * Counts an upload as it passes and fails it with 413 once it exceeds `limit`: the body is
 * streamed on, never held, so the limit cannot wait for the end. A declared length over the
 * limit is refused before anything is read.
 */
export function limitedUpload(req: IncomingMessage, limit: number | undefined, what: string): Readable {
  const refusal = () =>
    new ApiError(413, `${what} upload exceeds the ${formatBytes(limit!)} limit`, {}, 'request_too_large');
  const declared = Number(req.headers['content-length']);
  if (limit !== undefined && Number.isFinite(declared) && declared > limit) throw refusal();
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (limit !== undefined && seen > limit) done(refusal());
      else done(null, chunk);
    },
  });
  req.on('error', (error) => counter.destroy(error));
  req.on('aborted', () => counter.destroy(new Error('the client closed the connection during the upload')));
  return req.pipe(counter);
}

function formatBytes(bytes: number): string {
  const mb = bytes / 1024 / 1024;
  return mb >= 1 ? `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB` : `${bytes} bytes`;
}
