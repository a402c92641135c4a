import type { OutputBlock, StopReason, Usage } from './types.js';

/** One Server-Sent Event, framed, with the number of generated tokens it carries (for pacing). */
export interface StreamEvent {
  frame: string;
  tokens: number;
}

export interface StreamedMessage {
  id: string;
  model: string;
  content: OutputBlock[];
  stopReason: StopReason;
  stopSequence: string | null;
  usage: Usage;
}

const wordsPerTextDelta = 4;
const charsPerJsonDelta = 16;

export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * The event sequence of a streamed message: message_start, ping, then per block
 * content_block_start, its deltas and content_block_stop, then message_delta with the
 * cumulative usage and message_stop.
 */
export function messageEvents(message: StreamedMessage): StreamEvent[] {
  const { usage } = message;
  const events: StreamEvent[] = [];
  const push = (event: string, data: unknown, tokens = 0): void => {
    events.push({ frame: sseFrame(event, data), tokens });
  };
  push('message_start', {
    type: 'message_start',
    message: {
      id: message.id,
      type: 'message',
      role: 'assistant',
      model: message.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // Every usage field from the start; counts that grow during the turn start small.
      usage: {
        ...usage,
        output_tokens: Math.min(1, usage.output_tokens),
        ...(usage.server_tool_use && { server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 } }),
      },
    },
  });
  push('ping', { type: 'ping' });
  message.content.forEach((block, index) => {
    const delta = (payload: unknown, tokens: number): void =>
      push('content_block_delta', { type: 'content_block_delta', index, delta: payload }, tokens);
    if (block.type === 'text') {
      push('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      for (const piece of wordChunks(block.text))
        delta({ type: 'text_delta', text: piece.text }, piece.words);
    } else if (block.type === 'thinking') {
      push('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      });
      for (const piece of wordChunks(block.thinking))
        delta({ type: 'thinking_delta', thinking: piece.text }, piece.words);
      delta({ type: 'signature_delta', signature: block.signature }, 0);
    } else if (block.type === 'web_search_tool_result') {
      // Results arrive whole in the block's start event, without deltas.
      push('content_block_start', { type: 'content_block_start', index, content_block: block });
    } else {
      push('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { ...block, input: {} },
      });
      const json = JSON.stringify(block.input);
      delta({ type: 'input_json_delta', partial_json: '' }, 0);
      for (let at = 0; at < json.length; at += charsPerJsonDelta) {
        delta({ type: 'input_json_delta', partial_json: json.slice(at, at + charsPerJsonDelta) }, 1);
      }
    }
    push('content_block_stop', { type: 'content_block_stop', index });
  });
  push('message_delta', {
    type: 'message_delta',
    delta: { stop_reason: message.stopReason, stop_sequence: message.stopSequence },
    usage: {
      input_tokens: usage.input_tokens,
      cache_creation_input_tokens: usage.cache_creation_input_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens,
      output_tokens: usage.output_tokens,
      ...(usage.server_tool_use && { server_tool_use: usage.server_tool_use }),
    },
  });
  push('message_stop', { type: 'message_stop' });
  return events;
}

/** Text split before whitespace into pieces of a few words, so deltas rejoin to the exact text. */
function wordChunks(text: string): Array<{ text: string; words: number }> {
  const words = text.split(/(?=\s)/);
  const chunks: Array<{ text: string; words: number }> = [];
  for (let i = 0; i < words.length; i += wordsPerTextDelta) {
    const slice = words.slice(i, i + wordsPerTextDelta);
    const piece = slice.join('');
    if (piece) chunks.push({ text: piece, words: slice.length });
  }
  return chunks;
}
