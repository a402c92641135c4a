import type { Duplex } from 'node:stream';
import { ERROR_TYPES, errorBody, newRequestId } from '../pipeline/errors.js';

/** Node's HTTP parser errors by code, as the status and message a client is told. */
const PARSER_ERRORS: Record<string, [status: number, message: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request was not received in time'],
  ERR_HTTP_HEADERS_TIMEOUT: [408, 'the request headers were not received in time'],
  HPE_INVALID_CHUNK_SIZE: [400, 'malformed chunked request body'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'malformed transfer-encoding header'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'malformed content-length header'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'content-length and transfer-encoding must not both be sent'],
  HPE_INVALID_HEADER_TOKEN: [400, 'a request header has invalid characters'],
  HPE_INVALID_METHOD: [400, 'invalid HTTP method'],
  HPE_INVALID_URL: [400, 'invalid request target'],
  HPE_INVALID_VERSION: [400, 'invalid HTTP version'],
};

const TYPES: Record<number, string> = { ...ERROR_TYPES, 408: 'timeout_error', 431: 'request_too_large' };

/**
 * Answers a request Node's HTTP parser refused (bad header bytes, bad chunking, oversize
 * headers) in Anthropic's error shape, as every other refusal, instead of Node's bare
 * `400 Bad Request`: clients parse the JSON body to tell the user what went wrong.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A reset or closed connection has no one to tell. A request whose head was read may already
  // be answered (refused before its body went wrong): a second answer would corrupt the first.
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, message] = PARSER_ERRORS[error.code ?? ''] ?? [400, 'malformed HTTP request'];
  const requestId = newRequestId();
  const body = errorBody(TYPES[status] ?? 'invalid_request_error', message, requestId);
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `request-id: ${requestId}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}
