import type { StreamUsageTap, Usage, UsageReader } from '../pipeline/types.js';
import { emptyUsage, SseEventReader, SseUsageTap, usageFromJson } from './sse-usage.js';

/** Messages: `usage` of the JSON answer, or `message_start` + cumulative `message_delta` of the stream. */
export const messagesUsage: UsageReader = {
  json: (body) => usageFromJson(body).usage,
  stream: () => new SseUsageTap(),
  costEvent: true,
};

/** Usage in the OpenAI shape, as the OpenAI-compatible endpoint reports it. */
interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

/**
 * OpenAI's `prompt_tokens` counts the whole prompt, cached part included; Anthropic's
 * `input_tokens` is the uncached part, so the cached tokens move to `cache_read_input_tokens`.
 */
export function usageFromOpenAi(usage: OpenAiUsage | undefined | null): Usage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const prompt = count(usage.prompt_tokens);
  const cached = Math.min(prompt, count(usage.prompt_tokens_details?.cached_tokens));
  return {
    ...emptyUsage(),
    input_tokens: prompt - cached,
    cache_read_input_tokens: cached,
    output_tokens: count(usage.completion_tokens),
  };
}

const count = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;

/** The OpenAI-compatible layer: `usage` of the JSON answer, or of the stream's usage chunk. */
export const openAiUsage: UsageReader = {
  json(body) {
    try {
      return usageFromOpenAi((JSON.parse(body.toString('utf8')) as { usage?: OpenAiUsage }).usage);
    } catch {
      return undefined;
    }
  },
  stream: () => new OpenAiStreamTap(),
  costEvent: false,
};

/**
 * Reads a copy of an OpenAI-shaped chat completion stream (`data: {chunk}` events ending with
 * `data: [DONE]`): the usage chunk that `stream_options.include_usage` adds before the end, and
 * an `error` object if the stream reports one. Only chunks that mention usage or an error are parsed.
 */
export class OpenAiStreamTap extends SseEventReader implements StreamUsageTap {
  usage: Usage = emptyUsage();
  sawMessageStart = false;
  sawMessageStop = false;
  error?: { type: string; message: string };
  protected read(event: string): void {
    const data = event
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .join('\n');
    if (data === '[DONE]') {
      this.sawMessageStop = true;
      return;
    }
    if (!data.includes('"usage"') && !data.includes('"error"')) return;
    let parsed: { usage?: OpenAiUsage | null; error?: { type?: string; message?: string } };
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const usage = usageFromOpenAi(parsed.usage);
    if (usage) {
      this.usage = usage;
      this.sawMessageStart = true;
    }
    if (parsed.error && typeof parsed.error === 'object')
      this.error = { type: parsed.error.type ?? 'api_error', message: parsed.error.message ?? '' };
  }
}
