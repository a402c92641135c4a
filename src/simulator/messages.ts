import type { ModelInfo } from '../catalog/schema.js';
import { ApiError } from './errors.js';
import { type Fault, faultName } from './faults.js';
import { generate } from './generate.js';
import { baseHeaders, type Exchange, sendJson } from './http.js';
import { messageId } from './ids.js';
import { generationMs, type LatencyProfile, latencyFor, sleep } from './latency.js';
import { resolveModelIn } from './models.js';
import { fnv1a } from './random.js';
import { betasOf, checkModelFeatures, checkModelRules } from './rules.js';
import { messageEvents, type StreamEvent, sseFrame } from './sse.js';
import type { SimulatorState } from './state.js';
import { type PromptBlock, promptBlocks, tokenCosts } from './tokens.js';
import type { MessagesRequest, PromptRequest, Usage } from './types.js';
import { validateCountTokensRequest, validateMessagesRequest } from './validate.js';
import { checkVersionContent, checkVersionFields } from './versions.js';
import { offersServerTool } from './web-search.js';

/** `POST /v1/messages/count_tokens` */
export function countTokens(exchange: Exchange, body: unknown): void {
  const version = versionOf(exchange);
  checkVersionFields(body, version);
  const request = validateCountTokensRequest(body, { beta: namesBeta(exchange) });
  checkVersionContent(request, version);
  const model = resolveModelIn(exchange.state, request.model);
  sendJson(exchange, 200, { input_tokens: inputTokens(request, model).total });
}

/** `POST /v1/messages`: answers synchronously unless latency or a delay fault makes it wait. */
export function createMessage(exchange: Exchange, body: unknown): void | Promise<void> {
  const { request, model, speed, prompt } = checkRequest(
    exchange.state,
    body,
    versionOf(exchange),
    exchange.req.headers['anthropic-beta'],
  );

  const fault = exchange.state.faults.take();
  if (fault) {
    exchange.state.counters.faulted(faultName(fault));
    if (fault.kind === 'reset') {
      exchange.res.destroyedByFault = true;
      exchange.res.destroy();
      return;
    }
    if (fault.kind === 'status') {
      const headers: Record<string, string> =
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      throw new ApiError(fault.status, fault.message ?? defaultFaultMessage(fault.status), {
        type: fault.type,
        headers,
      });
    }
    if (fault.kind === 'delay')
      return sleep(fault.ms).then(() => answer(exchange, request, model, prompt, speed));
    if (!request.stream && fault.kind === 'stream-error')
      throw new ApiError(529, fault.message, { type: fault.type });
    if (!request.stream && fault.kind === 'stall') return; // never answers
  }
  return answer(exchange, request, model, prompt, speed, fault);
}

/** The request checks of `POST /v1/messages`, shared with Message Batches requests. */
function checkRequest(
  state: SimulatorState,
  body: unknown,
  version: string,
  betaHeader: string | string[] | undefined,
) {
  checkVersionFields(body, version);
  const request = validateMessagesRequest(body, { beta: betasOf(betaHeader).size > 0 });
  checkVersionContent(request, version);
  const model = resolveModelIn(state, request.model);
  checkFileReferences(state, request);
  checkModelRules(request, model);
  const speed = checkModelFeatures(request, model, {
    catalog: state.catalog,
    at: new Date(state.clock.now()),
    betas: betasOf(betaHeader),
  });
  if (request.max_tokens > model.maxOutputTokens) {
    throw new ApiError(
      400,
      `max_tokens: ${request.max_tokens} > ${model.maxOutputTokens}, which is the maximum allowed number of output tokens for ${model.id}`,
    );
  }
  const prompt = inputTokens(request, model);
  if (prompt.total > model.contextWindow) {
    throw new ApiError(400, `prompt is too long: ${prompt.total} tokens > ${model.contextWindow} maximum`);
  }
  return { request, model, speed, prompt };
}

/**
 * One Message Batches request, processed whole: the checks and the answer of `POST /v1/messages`
 * without the per-minute rate limits (batches have their own), at `service_tier: "batch"`.
 * Throws the ApiError that becomes the request's `errored` result.
 */
export function batchMessage(
  state: SimulatorState,
  body: unknown,
  version: string,
  betaHeader: string | string[] | undefined,
): Record<string, unknown> {
  const { request, model, speed, prompt } = checkRequest(state, body, version, betaHeader);
  const fault = state.batchFaults.take();
  if (fault?.kind === 'status') {
    state.counters.faulted(faultName(fault));
    throw new ApiError(fault.status, fault.message ?? defaultFaultMessage(fault.status), {
      type: fault.type,
    });
  }
  const scope = `${state.organizationId}\u0000${model.id}`;
  const cachePlan = state.cache.plan(scope, prompt.blocks, request.cache_control, model.minCacheableTokens);
  cachePlan.commit();
  const generated = generate(request, {
    outputTokens: state.outputTokens,
    tokenizer: model.tokenizer,
    seed: requestSeed(request, state.seed),
  });
  const usage = answerUsage(state, request, model, prompt.total, cachePlan, generated, speed, 'batch');
  recordUsageIn(state, model, usage);
  return {
    id: messageId(),
    type: 'message',
    role: 'assistant',
    model: model.id,
    content: generated.content,
    stop_reason: generated.stopReason,
    stop_sequence: generated.stopSequence,
    usage,
  };
}

function answer(
  exchange: Exchange,
  request: MessagesRequest,
  model: ModelInfo,
  prompt: { blocks: PromptBlock[]; total: number },
  speed: Usage['speed'],
  fault?: Fault,
): void | Promise<void> {
  const { state } = exchange;
  if (exchange.res.destroyed) return;
  if (state.spend.exceeded()) {
    const until = state.spend.nextMonthStart().toISOString().slice(0, 10);
    throw new ApiError(
      429,
      `You have reached your specified API usage limits. You will regain access on ${until} at 00:00 UTC.`,
      { details: { error_code: 'enforced_spend_limit_reached' }, headers: { 'x-should-retry': 'false' } },
    );
  }

  const scope = `${state.organizationId}\u0000${model.id}`;
  const cachePlan = state.cache.plan(scope, prompt.blocks, request.cache_control, model.minCacheableTokens);
  const cacheWrites = cachePlan.creation5m + cachePlan.creation1h;
  const uncached = prompt.total - cachePlan.readTokens - cacheWrites;
  const admission = state.limiter.admit(model.pool, uncached + cacheWrites, request.max_tokens, speed);
  if (!admission.admitted) {
    throw new ApiError(429, rateLimitMessage(admission.exceeded, admission.limit), {
      headers: { ...admission.headers, 'retry-after': String(admission.retryAfterSeconds) },
    });
  }
  cachePlan.commit();

  const generated = generate(request, {
    outputTokens: state.outputTokens,
    tokenizer: model.tokenizer,
    seed: requestSeed(request, state.seed),
  });
  const usage = answerUsage(state, request, model, prompt.total, cachePlan, generated, speed, 'standard');
  exchange.res.once('close', () => admission.settle(generated.outputTokens));
  recordUsage(exchange, model, usage);

  const message = {
    id: messageId(),
    model: model.id,
    content: generated.content,
    stopReason: generated.stopReason,
    stopSequence: generated.stopSequence,
    usage,
  };
  const latency = latencyFor(state.latency, model.family);
  if (request.stream) return stream(exchange, messageEvents(message), admission.headers, latency, fault);
  const send = (): void => {
    if (exchange.res.destroyed) return;
    sendJson(
      exchange,
      200,
      {
        id: message.id,
        type: 'message',
        role: 'assistant',
        model: message.model,
        content: message.content,
        stop_reason: message.stopReason,
        stop_sequence: message.stopSequence,
        usage,
      },
      admission.headers,
    );
  };
  if (!latency) return send();
  return sleep(latency.ttftMs + generationMs(latency, usage.output_tokens)).then(send);
}

/** A request that names any beta may use what the SDK's beta types define. */
function namesBeta(exchange: Exchange): boolean {
  return betasOf(exchange.req.headers['anthropic-beta']).size > 0;
}

function versionOf(exchange: Exchange): string {
  return String(exchange.req.headers['anthropic-version']);
}

export function inputTokens(request: PromptRequest, model: ModelInfo) {
  const blocks = promptBlocks(request, model.tokenizer);
  let total = tokenCosts.prompt;
  for (const block of blocks) total += block.tokens;
  return { blocks, total };
}

/** The same prompt gives the same answer, streamed or not, whatever max_tokens cuts it to. */
function requestSeed(request: MessagesRequest, seed: number): number {
  const { model, system, messages, tools, tool_choice, thinking } = request;
  return (
    (fnv1a(JSON.stringify({ model, system, messages, tools, tool_choice, thinking })) ^
      Math.imul(seed, 0x9e3779b1)) >>>
    0
  );
}

/** The usage an answer reports: the prompt split by the cache, the generated output, server tools. */
function answerUsage(
  state: SimulatorState,
  request: MessagesRequest,
  model: ModelInfo,
  promptTokens: number,
  cachePlan: { readTokens: number; creation5m: number; creation1h: number },
  generated: { outputTokens: number; searchInputTokens: number; webSearches: number },
  speed: Usage['speed'],
  serviceTier: 'standard' | 'batch',
): Usage {
  const cacheWrites = cachePlan.creation5m + cachePlan.creation1h;
  return {
    input_tokens: promptTokens - cachePlan.readTokens - cacheWrites + generated.searchInputTokens,
    cache_creation_input_tokens: cacheWrites,
    cache_read_input_tokens: cachePlan.readTokens,
    cache_creation: {
      ephemeral_5m_input_tokens: cachePlan.creation5m,
      ephemeral_1h_input_tokens: cachePlan.creation1h,
    },
    output_tokens: generated.outputTokens,
    ...(offersServerTool(request) && {
      server_tool_use: { web_search_requests: generated.webSearches, web_fetch_requests: 0 },
    }),
    service_tier: serviceTier,
    // Models that cannot be pinned to a geography run anywhere.
    inference_geo: model.inferenceGeo ? (request.inference_geo ?? state.workspaceGeo) : 'global',
    speed,
  };
}

/** Counts a generated answer's usage in the counters, the month's spend and the key's usage report. */
export function recordUsage(exchange: Exchange, model: ModelInfo, usage: Usage): void {
  recordUsageIn(exchange.state, model, usage);
  exchange.state.organization.record(exchange.apiKey, model.id, usage);
}

function recordUsageIn(state: SimulatorState, model: ModelInfo, usage: Usage): void {
  const { counters, spend } = state;
  counters.inputTokens += usage.input_tokens;
  counters.outputTokens += usage.output_tokens;
  counters.cacheCreationInputTokens += usage.cache_creation_input_tokens;
  counters.cacheReadInputTokens += usage.cache_read_input_tokens;
  spend.add(model.id, usage);
}

const limitNames = { requests: 'requests', input: 'input tokens', output: 'output tokens' } as const;

function rateLimitMessage(kind: keyof typeof limitNames, limit: number): string {
  return `This request would exceed the rate limit for your organization of ${limit.toLocaleString('en-US')} ${limitNames[kind]} per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.`;
}

function defaultFaultMessage(status: number): string {
  if (status === 429) return 'Number of request tokens has exceeded your per-minute rate limit';
  if (status === 529) return 'Overloaded';
  if (status === 504) return 'Request timed out';
  if (status >= 500) return 'Internal server error';
  return 'Simulated error';
}

function stream(
  exchange: Exchange,
  events: StreamEvent[],
  headers: Record<string, string>,
  latency: LatencyProfile | undefined,
  fault: Fault | undefined,
): void | Promise<void> {
  const { res } = exchange;
  exchange.state.counters.answered(200);
  res.writeHead(200, {
    ...baseHeaders(exchange),
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  const cut = fault?.kind === 'stream-error' || fault?.kind === 'stall';
  const sendCount = cut ? Math.min(fault.afterEvents, events.length) : events.length;
  const ending =
    fault?.kind === 'stream-error'
      ? sseFrame('error', { type: 'error', error: { type: fault.type, message: fault.message } })
      : '';
  const stalls = fault?.kind === 'stall';

  if (!latency) {
    let text = '';
    for (let i = 0; i < sendCount; i++) text += events[i]!.frame;
    text += ending;
    if (stalls) res.write(text);
    else res.end(text);
    return;
  }
  return pacedStream(exchange, events.slice(0, sendCount), latency, stalls ? undefined : ending);
}

/** Events at the pace of the latency profile; `ending` undefined leaves the stream open (a stall). */
async function pacedStream(
  exchange: Exchange,
  events: StreamEvent[],
  latency: LatencyProfile,
  ending: string | undefined,
): Promise<void> {
  const { res } = exchange;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    // message_start and ping come at once; the first content waits for the time to first token.
    if (i === 2) await sleep(latency.ttftMs);
    else if (event.tokens > 0) await sleep(generationMs(latency, event.tokens));
    if (res.destroyed) return;
    res.write(event.frame);
  }
  if (ending !== undefined) res.end(ending);
}

/** A content block naming an uploaded file (`source: {type: "file", file_id}`) needs that file. */
function checkFileReferences(state: SimulatorState, request: MessagesRequest): void {
  for (const message of request.messages) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) {
      const source = block.source as { type?: unknown; file_id?: unknown } | undefined;
      if (
        source?.type === 'file' &&
        typeof source.file_id === 'string' &&
        !state.files.files.has(source.file_id)
      )
        throw new ApiError(404, `File not found: ${source.file_id}`);
    }
  }
}
