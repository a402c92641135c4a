import type { Call } from '../pipeline/types.js';
import { UpstreamClient } from '../upstream/client.js';

/** The fields of a Messages body that make up the prompt: what count_tokens accepts. */
const PROMPT_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'cache_control'];

export interface UpstreamTokenCounter {
  /** The request's input tokens as the upstream counts them; rejects on any failure. */
  count(call: Call): Promise<number>;
  close(): Promise<void>;
}

/**
 * Asks the upstream's `POST /v1/messages/count_tokens` for a request's input tokens, with the
 * upstream key of the request's environment and the client's version and beta headers. Used by
 * budgets for a large request the byte bound would refuse; count_tokens has its own rate limits.
 */
export function upstreamTokenCounter(options: {
  url: string;
  upstreamKey: (environment: string | undefined) => string | undefined;
  timeoutMs: number;
}): UpstreamTokenCounter {
  const client = new UpstreamClient(options.url, { connections: 8, timeoutMs: options.timeoutMs });
  return {
    async count(call) {
      const key = options.upstreamKey(call.principal?.environment);
      if (!key) throw new Error('no upstream key for the request environment');
      const prompt: Record<string, unknown> = {};
      for (const field of PROMPT_FIELDS) if (call.body[field] !== undefined) prompt[field] = call.body[field];
      const body = Buffer.from(JSON.stringify(prompt));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-api-key': key,
        'anthropic-version': headerOf(call, 'anthropic-version') ?? '2023-06-01',
      };
      const beta = headerOf(call, 'anthropic-beta');
      if (beta) headers['anthropic-beta'] = beta;
      const response = await client.send({
        method: 'POST',
        path: '/v1/messages/count_tokens',
        headers,
        body,
        signal: call.signal,
      });
      const text = (await response.bytes()).toString('utf8');
      if (response.status !== 200) throw new Error(`count_tokens answered ${response.status}`);
      const tokens = (JSON.parse(text) as { input_tokens?: unknown }).input_tokens;
      if (typeof tokens !== 'number' || !Number.isFinite(tokens) || tokens < 0)
        throw new Error('count_tokens answered without input_tokens');
      return tokens;
    },
    close: () => client.close(),
  };
}

function headerOf(call: Call, name: string): string | undefined {
  const value = call.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
