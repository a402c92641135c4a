import { invalidRequest } from './errors.js';
import { requestShape } from './request-shape.generated.js';
import type { Namespace } from './request-shape.js';
import type {
  CacheControl,
  ContentBlock,
  MessageParam,
  MessagesRequest,
  PromptRequest,
  ToolDefinition,
} from './types.js';

/**
 * What a request may carry comes from the official SDK's request types (`request-shape.generated.ts`):
 * the GA types for every request, the beta types as well once the request names a beta
 * (`anthropic-beta`), as the API refuses a beta-only field without one ("Extra inputs are not
 * permitted"). The sampling parameters are older than the SDK 1.x types; the API still takes them
 * under the versions before 2026-10-21 (see versions.ts).
 */
export interface ValidationOptions {
  /** The request carries an `anthropic-beta` header. */
  beta?: boolean;
}

const samplingFields = ['temperature', 'top_p', 'top_k'];

function union(...lists: string[][]): Set<string> {
  return new Set(lists.flat());
}

/** The accepted values, per shape (GA only, or GA and beta). */
function accepted(beta: boolean) {
  const namespaces = beta ? [requestShape.ga, requestShape.beta] : [requestShape.ga];
  const of = (pick: (n: Namespace) => string[]) => union(...namespaces.map(pick));
  const roles = new Map<string, { fields: Set<string>; content: Set<string> }>();
  for (const namespace of namespaces) {
    for (const [role, shape] of Object.entries(namespace.roles)) {
      const known = roles.get(role) ?? { fields: new Set<string>(), content: new Set<string>() };
      for (const field of [...shape.required, ...shape.optional]) known.fields.add(field);
      for (const tag of shape.content) known.content.add(tag);
      roles.set(role, known);
    }
  }
  return {
    body: of((n) => [...n.body.required, ...n.body.optional, ...samplingFields]),
    roles,
    roleNames: sortedRoles([...roles.keys()]),
    thinking: of((n) => n.thinking),
    toolChoice: of((n) => n.toolChoice),
    effort: of((n) => n.effort),
    systemBlocks: of((n) => n.systemBlocks),
  };
}

/** user, assistant, then the others: the order the API's messages name them in. */
function sortedRoles(roles: string[]): string[] {
  const first = ['user', 'assistant'];
  return [...first.filter((r) => roles.includes(r)), ...roles.filter((r) => !first.includes(r)).sort()];
}

const shapes = { ga: accepted(false), beta: accepted(true) };
type Shape = ReturnType<typeof accepted>;

/** The field set of the Messages body, GA or with the beta types: exported for the SDK check. */
export function acceptedFields(beta: boolean): ReadonlySet<string> {
  return shapes[beta ? 'beta' : 'ga'].body;
}

function quoteList(values: Iterable<string>): string {
  const list = [...values].map((v) => `'${v}'`);
  return list.length <= 1 ? list.join('') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

const toolNamePattern = /^[a-zA-Z0-9_-]{1,128}$/;
const maxBreakpoints = 4;
const thinkingDocs = 'https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(path: string, message: string): never {
  throw invalidRequest(path ? `${path}: ${message}` : message);
}

function requireObject(body: unknown): Fields {
  if (!isObject(body)) fail('', 'Input should be a valid dictionary or object to extract fields from');
  return body;
}

/** The body of `POST /v1/messages`, checked the way the API checks it; throws a 400 ApiError. */
export function validateMessagesRequest(raw: unknown, options: ValidationOptions = {}): MessagesRequest {
  const body = requireObject(raw);
  const shape = shapes[options.beta ? 'beta' : 'ga'];
  for (const key of Object.keys(body)) {
    if (!shape.body.has(key)) fail(key, 'Extra inputs are not permitted');
  }
  const prompt = validatePrompt(body, shape);
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined) fail('max_tokens', 'Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens))
    fail('max_tokens', 'Input should be a valid integer');
  // 0 is a cache pre-warm: the prompt is read (and cached), nothing is generated.
  if (maxTokens < 0) fail('max_tokens', 'Input should be greater than or equal to 0');
  if (body.stream !== undefined && typeof body.stream !== 'boolean')
    fail('stream', 'Input should be a valid boolean');
  checkRange(body, 'temperature', 0, 1);
  checkRange(body, 'top_p', 0, 1);
  if (
    body.top_k !== undefined &&
    body.top_k !== null &&
    (!Number.isInteger(body.top_k) || (body.top_k as number) < 0)
  ) {
    fail('top_k', 'Input should be a non-negative integer');
  }
  const stops = body.stop_sequences;
  if (stops !== undefined && (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string'))) {
    fail('stop_sequences', 'Input should be a valid list of strings');
  }
  if (body.metadata !== undefined && !isObject(body.metadata))
    fail('metadata', 'Input should be a valid dictionary');
  if (
    body.inference_geo !== undefined &&
    body.inference_geo !== null &&
    typeof body.inference_geo !== 'string'
  )
    fail('inference_geo', 'Input should be a valid string');
  if (body.speed !== undefined && body.speed !== null && body.speed !== 'standard' && body.speed !== 'fast')
    fail('speed', "Input should be 'standard' or 'fast'");
  const request: MessagesRequest = {
    ...prompt,
    max_tokens: maxTokens,
    stream: body.stream as boolean | undefined,
    stop_sequences: stops as string[] | undefined,
    temperature: optionalNumber(body.temperature),
    top_p: optionalNumber(body.top_p),
    top_k: optionalNumber(body.top_k),
    effort: validateEffort(body.output_config, shape),
    inference_geo: (body.inference_geo ?? undefined) as string | undefined,
    speed: (body.speed ?? undefined) as MessagesRequest['speed'],
  };
  checkThinking(request);
  return request;
}

function validateEffort(config: unknown, shape: Shape): string | undefined {
  if (config === undefined || config === null) return undefined;
  if (!isObject(config)) fail('output_config', 'Input should be a valid dictionary');
  const effort = config.effort;
  if (effort === undefined || effort === null) return undefined;
  if (typeof effort !== 'string' || !shape.effort.has(effort)) {
    fail('output_config.effort', `Input should be ${quoteList(shape.effort)}`);
  }
  return effort;
}

/** `null` means "not set", as for the API. */
function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : (value as number);
}

/** The body of `POST /v1/messages/count_tokens`. */
export function validateCountTokensRequest(raw: unknown, options: ValidationOptions = {}): PromptRequest {
  // Top-level fields are not checked here: clients send their Messages body as it is.
  return validatePrompt(requireObject(raw), shapes[options.beta ? 'beta' : 'ga']);
}

function validatePrompt(body: Fields, shape: Shape): PromptRequest {
  if (body.model === undefined) fail('model', 'Field required');
  if (typeof body.model !== 'string') fail('model', 'Input should be a valid string');
  if (body.messages === undefined) fail('messages', 'Field required');
  const rawMessages = body.messages;
  if (!Array.isArray(rawMessages)) fail('messages', 'Input should be a valid list');
  if (rawMessages.length === 0) fail('messages', 'at least one message is required');
  const messages = rawMessages.map((message, i) => validateMessage(message, i, rawMessages.length, shape));
  checkSystemPlacement(messages);
  checkToolPairs(messages);
  const request: PromptRequest = { model: body.model, messages };
  if (body.system !== undefined) request.system = validateSystem(body.system, shape);
  if (body.tools !== undefined) request.tools = validateTools(body.tools);
  if (body.tool_choice !== undefined)
    request.tool_choice = validateToolChoice(body.tool_choice, request.tools, shape);
  if (body.thinking !== undefined) request.thinking = validateThinkingShape(body.thinking, shape);
  if (body.cache_control !== undefined && body.cache_control !== null) {
    request.cache_control = validateCacheControl(body.cache_control, 'cache_control');
  }
  checkBreakpointCount(request);
  return request;
}

function validateMessage(
  message: unknown,
  index: number,
  count: number,
  shape: Shape,
): PromptRequest['messages'][number] {
  const path = `messages.${index}`;
  if (!isObject(message)) fail(path, 'Input should be a valid dictionary');
  if (message.role === undefined) fail(`${path}.role`, 'Field required');
  const role = typeof message.role === 'string' ? shape.roles.get(message.role) : undefined;
  if (!role) fail(`${path}.role`, `Input should be ${quoteList(shape.roleNames)}`);
  for (const key of Object.keys(message)) {
    if (!role.fields.has(key)) fail(`${path}.${key}`, 'Extra inputs are not permitted');
  }
  if (message.content === undefined) fail(`${path}.content`, 'Field required');
  const finalAssistant = index === count - 1 && message.role === 'assistant';
  if (typeof message.content === 'string') {
    if (message.content.length === 0 && !finalAssistant) {
      fail(path, 'all messages must have non-empty content except for the optional final assistant message');
    }
    return { role: message.role as MessageParam['role'], content: message.content };
  }
  if (!Array.isArray(message.content)) fail(`${path}.content`, 'Input should be a valid string or list');
  if (message.content.length === 0 && !finalAssistant) {
    fail(path, 'all messages must have non-empty content except for the optional final assistant message');
  }
  const content = message.content.map((block, j) =>
    validateContentBlock(block, `${path}.content.${j}`, role.content),
  );
  return { role: message.role as MessageParam['role'], content };
}

function validateContentBlock(block: unknown, path: string, tags: ReadonlySet<string>): ContentBlock {
  if (!isObject(block)) fail(path, 'Input should be a valid dictionary');
  const type = block.type;
  if (typeof type !== 'string') fail(`${path}.type`, 'Field required');
  if (!tags.has(type)) {
    fail(
      `${path}.type`,
      `Input tag '${type}' found using 'type' does not match any of the expected tags: ${quoteList(tags)}`,
    );
  }
  if (type === 'text') {
    if (typeof block.text !== 'string') fail(`${path}.text`, 'Field required');
    if (block.text.length === 0) fail('messages', 'text content blocks must be non-empty');
  }
  if (type === 'image' && !isObject(block.source)) fail(`${path}.source`, 'Field required');
  if (type === 'tool_use') {
    if (typeof block.id !== 'string') fail(`${path}.id`, 'Field required');
    if (typeof block.name !== 'string') fail(`${path}.name`, 'Field required');
    if (!isObject(block.input)) fail(`${path}.input`, 'Input should be a valid dictionary');
  }
  if (type === 'tool_result' && typeof block.tool_use_id !== 'string')
    fail(`${path}.tool_use_id`, 'Field required');
  if (block.cache_control !== undefined && block.cache_control !== null) {
    validateCacheControl(block.cache_control, `${path}.cache_control`);
  }
  return block as ContentBlock;
}

/**
 * Where a mid-conversation system message may stand: not first; after a user turn (tool results
 * included) or an assistant turn that ends in a server tool's result; before an assistant turn or
 * at the end. Consecutive system messages are one section.
 */
function checkSystemPlacement(messages: PromptRequest['messages']): void {
  messages.forEach((message, i) => {
    if (message.role !== 'system') return;
    let before = i - 1;
    while (before >= 0 && messages[before]!.role === 'system') before--;
    const previous = messages[before];
    const next = messages.slice(i + 1).find((m) => m.role !== 'system');
    if (!previous) fail(`messages.${i}`, 'a system message may not be the first message');
    if (previous.role === 'assistant' && !endsInServerToolResult(previous)) {
      fail(
        `messages.${i}`,
        'a system message must follow a user message or an assistant message ending in a server tool result',
      );
    }
    if (next && next.role !== 'assistant') {
      fail(
        `messages.${i}`,
        'a system message must be followed by an assistant message or end the conversation',
      );
    }
  });
}

function endsInServerToolResult(message: PromptRequest['messages'][number]): boolean {
  if (typeof message.content === 'string') return false;
  const last = message.content[message.content.length - 1];
  return last !== undefined && last.type !== 'tool_result' && last.type.endsWith('_tool_result');
}

/** Every tool_use must be answered by a tool_result in the next message, and only those. */
function checkToolPairs(messages: PromptRequest['messages']): void {
  messages.forEach((message, i) => {
    const previous = messages[i - 1];
    const offered = new Set(
      previous && previous.role === 'assistant' && Array.isArray(previous.content)
        ? previous.content.filter((b) => b.type === 'tool_use').map((b) => String(b.id))
        : [],
    );
    const answered = Array.isArray(message.content)
      ? message.content.filter((b) => b.type === 'tool_result').map((b) => String(b.tool_use_id))
      : [];
    const unexpected = answered.filter((id) => !offered.has(id));
    if (unexpected.length > 0) {
      fail(
        `messages.${i}.content.0`,
        `unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(', ')}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
      );
    }
    if (previous && offered.size > 0 && message.role === 'user') {
      const missing = [...offered].filter((id) => !answered.includes(id));
      if (missing.length > 0) {
        fail(
          `messages.${i - 1}`,
          `\`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
  });
}

function validateSystem(system: unknown, shape: Shape): string | ContentBlock[] {
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) fail('system', 'Input should be a valid string or list');
  return system.map((block, i) => {
    if (!isObject(block) || typeof block.type !== 'string' || !shape.systemBlocks.has(block.type))
      fail(`system.${i}.type`, `Input should be ${quoteList(shape.systemBlocks)}`);
    if (typeof block.text !== 'string') fail(`system.${i}.text`, 'Field required');
    if (block.text.length === 0) fail('system', 'text content blocks must be non-empty');
    if (block.cache_control !== undefined && block.cache_control !== null) {
      validateCacheControl(block.cache_control, `system.${i}.cache_control`);
    }
    return block as ContentBlock;
  });
}

function validateTools(tools: unknown): ToolDefinition[] {
  if (!Array.isArray(tools)) fail('tools', 'Input should be a valid list');
  const names = new Set<string>();
  const result = tools.map((tool, i) => {
    if (!isObject(tool)) fail(`tools.${i}`, 'Input should be a valid dictionary');
    const custom = tool.type === undefined || tool.type === 'custom';
    if (typeof tool.name !== 'string') fail(`tools.${i}.name`, 'Field required');
    if (custom) {
      if (!toolNamePattern.test(tool.name)) {
        fail(`tools.${i}.custom.name`, `String should match pattern '${toolNamePattern.source}'`);
      }
      if (tool.input_schema === undefined) fail(`tools.${i}.custom.input_schema`, 'Field required');
      if (!isObject(tool.input_schema))
        fail(`tools.${i}.custom.input_schema`, 'Input should be a valid dictionary');
    }
    if (tool.cache_control !== undefined && tool.cache_control !== null) {
      validateCacheControl(tool.cache_control, `tools.${i}.cache_control`);
    }
    if (names.has(tool.name)) fail('tools', 'Tool names must be unique.');
    names.add(tool.name);
    return tool as ToolDefinition;
  });
  return result;
}

function validateToolChoice(
  choice: unknown,
  tools: ToolDefinition[] | undefined,
  shape: Shape,
): PromptRequest['tool_choice'] {
  if (!isObject(choice)) fail('tool_choice', 'Input should be a valid dictionary');
  const type = choice.type;
  if (typeof type !== 'string' || !shape.toolChoice.has(type)) {
    fail('tool_choice.type', `Input should be ${quoteList(shape.toolChoice)}`);
  }
  if (type !== 'none' && type !== 'auto' && (!tools || tools.length === 0)) {
    fail('', 'tool_choice may only be specified while providing tools.');
  }
  if (type === 'tool') {
    if (typeof choice.name !== 'string') fail('tool_choice.tool.name', 'Field required');
    if (!tools?.some((tool) => tool.name === choice.name)) {
      fail('tool_choice', `Tool '${choice.name}' not found in provided tools`);
    }
    return { type, name: choice.name };
  }
  return { type } as PromptRequest['tool_choice'];
}

function validateThinkingShape(thinking: unknown, shape: Shape): PromptRequest['thinking'] {
  if (!isObject(thinking)) fail('thinking', 'Input should be a valid dictionary');
  const type = thinking.type;
  if (typeof type !== 'string' || !shape.thinking.has(type)) {
    fail(
      'thinking',
      `Input tag '${String(type)}' found using 'type' does not match any of the expected tags: ${quoteList(shape.thinking)}`,
    );
  }
  if (type !== 'enabled') return { type } as PromptRequest['thinking'];
  const budget = thinking.budget_tokens;
  if (budget === undefined) fail('thinking.enabled.budget_tokens', 'Field required');
  if (typeof budget !== 'number' || !Number.isInteger(budget)) {
    fail('thinking.enabled.budget_tokens', 'Input should be a valid integer');
  }
  if (budget < 1024) fail('thinking.enabled.budget_tokens', 'Input should be greater than or equal to 1024');
  return { type: 'enabled', budget_tokens: budget };
}

function checkThinking(request: MessagesRequest): void {
  const thinking = request.thinking;
  if (thinking?.type !== 'enabled') return;
  if (thinking.budget_tokens >= request.max_tokens) {
    fail(
      '',
      `\`max_tokens\` must be greater than \`thinking.budget_tokens\`. Please consult our documentation at ${thinkingDocs}#max-tokens-and-context-window-size`,
    );
  }
  if (request.tool_choice?.type === 'any' || request.tool_choice?.type === 'tool') {
    fail('', 'Thinking may not be enabled when tool_choice forces tool use.');
  }
  if (request.temperature !== undefined && request.temperature !== 1) {
    fail(
      '',
      `\`temperature\` may only be set to 1 when thinking is enabled. Please consult our documentation at ${thinkingDocs}#feature-compatibility`,
    );
  }
}

function validateCacheControl(value: unknown, path: string): CacheControl {
  if (!isObject(value)) fail(path, 'Input should be a valid dictionary');
  if (value.type !== 'ephemeral') fail(`${path}.type`, "Input should be 'ephemeral'");
  if (value.ttl !== undefined && value.ttl !== '5m' && value.ttl !== '1h')
    fail(`${path}.ttl`, "Input should be '5m' or '1h'");
  return value as unknown as CacheControl;
}

function checkBreakpointCount(request: PromptRequest): void {
  let found = request.cache_control ? 1 : 0;
  for (const tool of request.tools ?? []) if (tool.cache_control) found++;
  if (Array.isArray(request.system)) for (const block of request.system) if (block.cache_control) found++;
  for (const message of request.messages) {
    if (Array.isArray(message.content)) for (const block of message.content) if (block.cache_control) found++;
  }
  if (found > maxBreakpoints) {
    fail('', `A maximum of ${maxBreakpoints} blocks with cache_control may be provided. Found ${found}.`);
  }
}

function checkRange(body: Fields, field: string, min: number, max: number): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (typeof value !== 'number') fail(field, 'Input should be a valid number');
  if (value < min) fail(field, `Input should be greater than or equal to ${min}`);
  if (value > max) fail(field, `Input should be less than or equal to ${max}`);
}
