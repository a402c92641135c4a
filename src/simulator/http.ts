import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, errorBody } from './errors.js';
import type { SimulatorState } from './state.js';

/** The API's body limit for Messages and count_tokens. */
export const maxBodyBytes = 32 * 1024 * 1024;

/** One request being served. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  requestId: string;
  state: SimulatorState;
  /** Whether responses count in the counters (API requests do, control requests do not). */
  counted: boolean;
  /** The credential that was accepted, so usage can be reported per organization key. */
  apiKey?: string;
}

export function baseHeaders(exchange: Exchange): Record<string, string> {
  return { 'request-id': exchange.requestId, 'anthropic-organization-id': exchange.state.organizationId };
}

export function sendJson(
  exchange: Exchange,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (exchange.counted) exchange.state.counters.answered(status);
  exchange.res.writeHead(status, {
    ...baseHeaders(exchange),
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  exchange.res.end(text);
}

export function sendError(exchange: Exchange, error: ApiError, headers: Record<string, string> = {}): void {
  const body = errorBody(error.type, error.message, exchange.requestId, error.options.details);
  sendJson(exchange, error.status, body, { ...headers, ...error.options.headers });
}

/**
 * Reads the request body as text and calls back (no promise: this is the hot path); 413 past the
 * API's limit, after which the connection is closed.
 */
export function collectBody(
  req: IncomingMessage,
  done: (error: ApiError | Error | undefined, text: string) => void,
  limit = maxBodyBytes,
): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    done(tooLarge(), '');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > limit) {
      finished = true;
      req.pause();
      done(tooLarge(), '');
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(
      undefined,
      chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
    );
  });
  req.on('error', (error) => {
    if (finished) return;
    finished = true;
    done(error, '');
  });
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) =>
    collectBody(req, (error, text) => (error ? reject(error) : resolve(text))),
  );
}

function tooLarge(): ApiError {
  return new ApiError(413, 'Request exceeds the maximum allowed number of bytes.', {
    headers: { connection: 'close' },
  });
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(
      400,
      `There was an error parsing the body of your request: ${(error as Error).message}`,
    );
  }
}
