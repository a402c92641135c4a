import { ApiError } from './errors.js';
import type { Call } from './types.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What the stages read of an OpenAI chat completion body: `model`, `messages` (objects with a
 * role) and the token limits. The rest is the compatibility endpoint's to judge.
 */
export function checkChatBody(body: unknown): asserts body is Call['body'] {
  if (!isObject(body)) throw new ApiError(400, 'request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '')
    throw new ApiError(400, 'model: Field required (a string)');
  if (!Array.isArray(body.messages)) throw new ApiError(400, 'messages: Field required (an array)');
  body.messages.forEach((message, i) => {
    if (!isObject(message) || typeof message.role !== 'string')
      throw new ApiError(400, `messages.${i}: an object with a role is required`);
  });
  for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
    const value = body[field];
    if (value !== undefined && value !== null && (!Number.isInteger(value) || (value as number) < 1))
      throw new ApiError(400, `${field}: must be a whole number, 1 or more`);
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw new ApiError(400, 'stream: must be a boolean');
  if (body.stream_options !== undefined && body.stream_options !== null && !isObject(body.stream_options))
    throw new ApiError(400, 'stream_options: must be an object');
}

/**
 * Makes the OpenAI body fit the stages that Messages share: `max_completion_tokens` (OpenAI's
 * newer name) becomes `max_tokens`, which the key's cap is checked against; a stream asks for
 * its usage chunk (`stream_options.include_usage`), without which it could not be priced.
 */
export function prepareChatBody(call: Call): void {
  const body = call.body;
  if (body.max_completion_tokens !== undefined && body.max_completion_tokens !== null) {
    if (body.max_tokens === undefined || body.max_tokens === null)
      body.max_tokens = body.max_completion_tokens as number;
    delete body.max_completion_tokens;
    call.bodyChanged = true;
  }
  if (body.max_tokens === null) {
    delete body.max_tokens;
    call.bodyChanged = true;
  }
  if (body.stream === true) {
    const options = (body.stream_options ?? {}) as Record<string, unknown>;
    if (options.include_usage !== true) {
      body.stream_options = { ...options, include_usage: true };
      call.bodyChanged = true;
    }
  }
}
