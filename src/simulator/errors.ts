/** Error types of the Anthropic API, by the status they come with. */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

const typeByStatus: Record<number, ErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const defaultMessages: Partial<Record<ErrorType, string>> = {
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
  rate_limit_error: 'Number of requests has exceeded your rate limit',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
};

export function errorTypeForStatus(status: number): ErrorType {
  return typeByStatus[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export function defaultErrorMessage(type: ErrorType): string {
  return defaultMessages[type] ?? type;
}

/** An error answered to the client in the API's JSON shape. */
export class ApiError extends Error {
  readonly type: ErrorType;
  constructor(
    readonly status: number,
    message: string,
    readonly options: {
      type?: ErrorType;
      details?: Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.type = options.type ?? errorTypeForStatus(status);
  }
}

export function invalidRequest(message: string): ApiError {
  return new ApiError(400, message);
}

/** `{"type":"error","error":{"type":T,"message":M},"request_id":"req_…"}` */
export function errorBody(
  type: ErrorType,
  message: string,
  requestId: string,
  details?: Record<string, unknown>,
): string {
  const error = details ? { type, message, details } : { type, message };
  return JSON.stringify({ type: 'error', error, request_id: requestId });
}
