import type { IncomingMessage, ServerResponse } from 'node:http';
import { presentedKey } from '../pipeline/authenticate.js';
import { ApiError, errorBody, newRequestId } from '../pipeline/errors.js';
import { parseJsonBody, readBody } from '../server/http-io.js';
import { parseDuration } from './duration.js';
import { KeyError, type KeyService } from './service.js';

/** Where short-lived keys are bought (docs/keys-and-environments.md). */
export const EXCHANGE_PATH = '/sluice/v1/keys/exchange';

/** The answer of an exchange as JSON; `text/plain` asks for the key alone, as apiKeyHelper prints it. */
export interface ExchangeJson {
  key: string;
  name: string;
  hint: string;
  developer: string | null;
  expires_at: string;
  ttl_seconds: number;
}

function ttlOf(query: URLSearchParams, body: unknown): number | undefined {
  const fromBody =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>).ttl
      : undefined;
  const text = query.get('ttl') ?? fromBody;
  if (text === undefined || text === null) return undefined;
  if (typeof text !== 'string') throw new ApiError(400, 'ttl: a duration such as "30m" or "1h"');
  try {
    return parseDuration(text);
  } catch (error) {
    throw new ApiError(400, `ttl: ${(error as Error).message}`);
  }
}

/**
 * `POST /sluice/v1/keys/exchange`: an exchange credential (as `Authorization: Bearer` or
 * `x-api-key`) buys a short-lived key. `ttl` (query or JSON body) asks for a lifetime within the
 * configured cap. The secret is in the answer only; nothing here logs it.
 */
export function exchangeHandler(
  keys: KeyService,
): (req: IncomingMessage, res: ServerResponse, target: string) => Promise<void> {
  return async (req, res, target) => {
    const requestId = newRequestId();
    try {
      if (req.method !== 'POST')
        throw new ApiError(405, `${req.method} is not allowed on ${EXCHANGE_PATH}; use POST`);
      const url = new URL(target, 'http://gateway');
      const raw = await readBody(req, 64 * 1024);
      const body = raw.length > 0 ? parseJsonBody(raw) : undefined;
      const ttlMs = ttlOf(url.searchParams, body);
      let bought: Awaited<ReturnType<KeyService['exchange']>>;
      try {
        bought = await keys.exchange(presentedKey(req.headers), ttlMs);
      } catch (error) {
        if (error instanceof KeyError) throw new ApiError(error.status, error.message);
        throw error;
      }
      const { key, view } = bought;
      const plain =
        url.searchParams.get('format') === 'text' || /^text\/plain\b/.test(req.headers.accept ?? '');
      const text = plain
        ? key
        : JSON.stringify({
            key,
            name: view.name,
            hint: view.hint,
            developer: view.developer,
            expires_at: view.expiresAt!,
            ttl_seconds: Math.floor(bought.ttlMs / 1000),
          } satisfies ExchangeJson);
      res.writeHead(201, {
        'content-type': plain ? 'text/plain; charset=utf-8' : 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        'cache-control': 'no-store',
        'request-id': requestId,
      });
      res.end(text);
    } catch (error) {
      const apiError =
        error instanceof ApiError
          ? error
          : new ApiError(500, 'internal error while exchanging the credential');
      const text = errorBody(apiError.type, apiError.message, requestId);
      if (res.headersSent) return void res.destroy();
      res.writeHead(apiError.status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        'request-id': requestId,
      });
      res.end(text);
      if (!(error instanceof ApiError)) throw error;
    }
  };
}
