import type { IncomingMessage, ServerResponse } from 'node:http';
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

export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) throw new ApiError(400, 'request body is empty: a JSON object is required');
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ApiError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
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
