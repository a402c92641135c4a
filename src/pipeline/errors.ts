import { randomBytes } from 'node:crypto';

/** Anthropic's error types by HTTP status. */
export const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** A refusal a stage answers with, shaped as Anthropic's error. */
export class ApiError extends Error {
  readonly type: string;
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    type?: string,
  ) {
    super(message);
    this.type = type ?? ERROR_TYPES[status] ?? 'api_error';
  }
}

export function errorBody(type: string, message: string, requestId: string): string {
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId });
}

// Unique per process start (random prefix) and per request (counter); cheaper than random bytes per call.
const idPrefix = `req_sluice_${randomBytes(6).toString('hex')}`;
let idCounter = 0;

export function newRequestId(): string {
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${idPrefix}${idCounter.toString(36).padStart(8, '0')}`;
}
