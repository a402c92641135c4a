import { ApiError } from './errors.js';
import { generate } from './generate.js';
import { baseHeaders, type Exchange, sendJson } from './http.js';
import { inputTokens, recordUsage } from './messages.js';
import { resolveModel } from './models.js';
import { base62String, fnv1a } from './random.js';
import type { MessageParam, MessagesRequest } from './types.js';

interface ChatMessage {
  role?: unknown;
  content?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Text of an OpenAI message's content: a string, or parts of which the text ones count. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (isObject(part) && part.type === 'text' && typeof part.text === 'string' ? part.text : ''))
    .join('');
}

/**
 * The compatibility layer's rules (reference §5, OAI): `n` must be 1, `temperature` is capped at 1,
 * system and developer messages are hoisted to the front and joined, `strict` and
 * `response_format` are ignored, no prompt caching.
 */
export function chatToMessages(body: unknown): { request: MessagesRequest; includeUsage: boolean } {
  if (!isObject(body)) throw new ApiError(400, 'request body must be a JSON object');
  if (typeof body.model !== 'string' || !body.model) throw new ApiError(400, 'model: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw new ApiError(400, 'messages: Field required (a non-empty list)');
  if (body.n !== undefined && body.n !== null && body.n !== 1)
    throw new ApiError(400, 'n: only 1 is supported');
  const system: string[] = [];
  const messages: MessageParam[] = [];
  for (const [i, raw] of (body.messages as ChatMessage[]).entries()) {
    if (!isObject(raw) || typeof raw.role !== 'string')
      throw new ApiError(400, `messages.${i}.role: Field required`);
    const text = textOf(raw.content);
    if (raw.role === 'system' || raw.role === 'developer') system.push(text);
    else if (raw.role === 'user' || raw.role === 'tool')
      messages.push({ role: 'user', content: text || ' ' });
    else if (raw.role === 'assistant') messages.push({ role: 'assistant', content: text || ' ' });
    else throw new ApiError(400, `messages.${i}.role: unknown role ${raw.role}`);
  }
  if (messages.length === 0) throw new ApiError(400, 'messages: at least one user message is required');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (
    maxTokens !== undefined &&
    maxTokens !== null &&
    (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)
  )
    throw new ApiError(400, 'max_tokens: must be a whole number, 1 or more');
  const temperature =
    typeof body.temperature === 'number' ? Math.min(1, Math.max(0, body.temperature)) : undefined;
  const options = isObject(body.stream_options) ? body.stream_options : {};
  return {
    request: {
      model: body.model,
      messages,
      ...(system.length > 0 && { system: system.join('\n') }),
      max_tokens: (maxTokens as number | undefined) ?? 4096,
      stream: body.stream === true,
      ...(temperature !== undefined && { temperature }),
    },
    includeUsage: options.include_usage === true,
  };
}

/** `POST /v1/chat/completions`: an OpenAI-shaped answer generated as Messages would generate it. */
export function chatCompletion(exchange: Exchange, body: unknown): void {
  const { request, includeUsage } = chatToMessages(body);
  const { state } = exchange;
  const model = resolveModel(exchange, request.model);
  request.max_tokens = Math.min(request.max_tokens, model.maxOutputTokens);
  const prompt = inputTokens(request, model);
  if (prompt.total > model.contextWindow)
    throw new ApiError(400, `prompt is too long: ${prompt.total} tokens > ${model.contextWindow} maximum`);
  const generated = generate(request, {
    outputTokens: state.outputTokens,
    tokenizer: model.tokenizer,
    seed: (fnv1a(JSON.stringify(request.messages)) ^ state.seed) >>> 0,
  });
  // No prompt caching on this endpoint: the whole prompt is input.
  recordUsage(exchange, model, {
    input_tokens: prompt.total,
    output_tokens: generated.outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    service_tier: 'standard',
    inference_geo: 'global',
    speed: 'standard',
  });
  const text = generated.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
  const finish = generated.stopReason === 'max_tokens' ? 'length' : 'stop';
  const usage = {
    prompt_tokens: prompt.total,
    completion_tokens: generated.outputTokens,
    total_tokens: prompt.total + generated.outputTokens,
    prompt_tokens_details: { cached_tokens: 0 },
  };
  const id = `chatcmpl-${base62String(24)}`;
  const created = Math.floor(state.clock.now() / 1000);
  if (!request.stream) {
    sendJson(exchange, 200, {
      id,
      object: 'chat.completion',
      created,
      model: model.id,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finish }],
      usage,
    });
    return;
  }
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: model.id, choices, ...extra })}\n\n`;
  const frames = [chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])];
  for (const piece of text.match(/\S+\s*/g) ?? [])
    frames.push(chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]));
  frames.push(chunk([{ index: 0, delta: {}, finish_reason: finish }]));
  if (includeUsage) frames.push(chunk([], { usage }));
  frames.push('data: [DONE]\n\n');
  state.counters.answered(200);
  exchange.res.writeHead(200, {
    ...baseHeaders(exchange),
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
  });
  exchange.res.end(frames.join(''));
}

/**
 * `POST /v1/complete`, the legacy Text Completions API: `prompt` ("\n\nHuman: … \n\nAssistant:"),
 * `max_tokens_to_sample`; the answer carries no usage, as the legacy API's does not.
 */
export function textCompletion(exchange: Exchange, body: unknown): void {
  if (!isObject(body)) throw new ApiError(400, 'request body must be a JSON object');
  if (typeof body.model !== 'string' || !body.model) throw new ApiError(400, 'model: Field required');
  if (typeof body.prompt !== 'string' || !body.prompt.includes('\n\nHuman:'))
    throw new ApiError(400, 'prompt: must start with "\\n\\nHuman:" and end with "\\n\\nAssistant:"');
  const maxTokens = body.max_tokens_to_sample;
  if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1)
    throw new ApiError(400, 'max_tokens_to_sample: Field required (a whole number, 1 or more)');
  const model = resolveModel(exchange, body.model);
  const request: MessagesRequest = {
    model: body.model,
    messages: [{ role: 'user', content: body.prompt }],
    max_tokens: Math.min(maxTokens as number, model.maxOutputTokens),
  };
  const generated = generate(request, {
    outputTokens: exchange.state.outputTokens,
    tokenizer: model.tokenizer,
    seed: (fnv1a(body.prompt) ^ exchange.state.seed) >>> 0,
  });
  const text = generated.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
  sendJson(exchange, 200, {
    id: `compl_01${base62String(22)}`,
    type: 'completion',
    completion: ` ${text}`,
    stop_reason: generated.stopReason === 'max_tokens' ? 'max_tokens' : 'stop_sequence',
    model: model.id,
  });
}
