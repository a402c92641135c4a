import { invalidRequest } from './errors.js';
import type { PromptRequest } from './types.js';

/** The API versions the simulator answers; each validates requests its own way. */
export const apiVersions = ['2023-06-01', '2023-01-01', '2026-10-21'] as const;
export type ApiVersion = (typeof apiVersions)[number];

/** The version that removed sampling parameters and tightened content blocks. */
const strictVersion = '2026-10-21';
const samplingFields = ['temperature', 'top_p', 'top_k'];

/**
 * Checks on the raw body that come before field validation: under 2026-10-21 the sampling
 * parameters no longer exist, so any value, even the default, is an unknown field.
 */
export function checkVersionFields(body: unknown, version: string): void {
  if (version !== strictVersion || typeof body !== 'object' || body === null) return;
  for (const field of samplingFields) {
    if (field in body) throw invalidRequest(`${field}: Extra inputs are not permitted`);
  }
}

/**
 * Content rules of 2026-10-21 (Messages and count_tokens): no document blocks in assistant
 * messages, no citations on text blocks in user messages.
 */
export function checkVersionContent(request: PromptRequest, version: string): void {
  if (version !== strictVersion) return;
  request.messages.forEach((message, i) => {
    if (typeof message.content === 'string') return;
    message.content.forEach((block, j) => {
      const path = `messages.${i}.content.${j}`;
      if (message.role === 'assistant' && block.type === 'document') {
        throw invalidRequest(`${path}: document blocks are not permitted in assistant messages`);
      }
      const citations = block.citations;
      if (
        message.role === 'user' &&
        block.type === 'text' &&
        Array.isArray(citations) &&
        citations.length > 0
      ) {
        throw invalidRequest(
          `${path}.citations: citations are not permitted on text blocks in user messages`,
        );
      }
    });
  });
}
