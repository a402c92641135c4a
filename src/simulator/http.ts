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

/** The request body as text; 413 past the API's limit (the connection is then closed). */
export function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        req.removeAllListeners('data');
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
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
