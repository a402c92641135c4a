import { createHash } from 'node:crypto';
import { toolUseId } from './ids.js';
import { createRng, type Rng } from './random.js';
import { valueForSchema } from './schema-values.js';
import { countOutputTokens } from './tokens.js';
import type { MessagesRequest, OutputBlock, StopReason, ToolDefinition } from './types.js';
import { searchTurn, webSearchTool } from './web-search.js';
import { fillerWords } from './words.js';

export interface Generated {
  content: OutputBlock[];
  stopReason: StopReason;
  stopSequence: string | null;
  outputTokens: number;
  /** Successful web searches of the turn. */
  webSearches: number;
  /** Search results read into the context: input tokens on top of the prompt. */
  searchInputTokens: number;
}

export interface GenerationOptions {
  /** Length of the answer's text when max_tokens allows. */
  outputTokens: number;
  tokenizer: string;
  seed: number;
}

/** Length of the text an `auto` tool call says before calling. */
const toolPreambleTokens = 8;

/**
 * The answer to a request: deterministic for a seed. Thinking (enabled or adaptive) comes first, then
 * either a tool call (see `chooseTool`) or text; everything counts against `max_tokens`.
 */
export function generate(request: MessagesRequest, options: GenerationOptions): Generated {
  const rng = createRng(options.seed);
  const content: OutputBlock[] = [];
  let budget = request.max_tokens;
  let webSearches = 0;
  let searchInputTokens = 0;
  const done = (stopReason: StopReason, stopSequence: string | null = null): Generated => ({
    content,
    stopReason,
    stopSequence,
    outputTokens:
      stopReason === 'max_tokens' ? request.max_tokens : countOutputTokens(content, options.tokenizer),
    webSearches,
    searchInputTokens,
  });
  // A cache pre-warm: the prompt is read, nothing is written.
  if (budget === 0) return done('max_tokens');

  const thinking = request.thinking;
  if (thinking?.type === 'enabled' || thinking?.type === 'adaptive') {
    // Adaptive thinking has no budget: it thinks at most half of max_tokens.
    const allowance = thinking.type === 'enabled' ? thinking.budget_tokens : Math.floor(budget / 2);
    const length = Math.min(allowance, options.outputTokens, budget);
    content.push({ type: 'thinking', thinking: fillerText(rng, length), signature: signature(options.seed) });
    budget -= length;
  }

  const searchTool = webSearchTool(request);
  if (searchTool) {
    const fits = (block: OutputBlock): boolean => {
      const cost = countOutputTokens([block], options.tokenizer);
      if (cost > budget) return false;
      budget -= cost;
      return true;
    };
    const turn = searchTurn(request, searchTool, rng, fits, options.tokenizer);
    content.push(...turn.blocks);
    webSearches = turn.searches;
    searchInputTokens = turn.resultTokens;
  }

  const tool = chooseTool(request);
  const textLength = tool
    ? request.tool_choice?.type === 'auto' || !request.tool_choice
      ? toolPreambleTokens
      : 0
    : options.outputTokens;
  if (textLength > 0 || !tool) {
    const length = Math.min(textLength, budget);
    const text = fillerText(rng, length);
    const stop = findStopSequence(text, request.stop_sequences);
    if (stop) {
      content.push({ type: 'text', text: text.slice(0, stop.index) });
      return done('stop_sequence', stop.sequence);
    }
    content.push({ type: 'text', text });
    budget -= length;
    if (length < textLength) return done('max_tokens');
  }
  if (!tool) return done('end_turn');

  const call: OutputBlock = {
    type: 'tool_use',
    id: toolUseId(rng.next),
    name: tool.name,
    input: toolInput(request, tool, rng),
  };
  if (countOutputTokens([call], options.tokenizer) > budget) {
    // Cut inside the tool input: the partial input is not usable, as with the real service.
    content.push({ ...call, input: {} });
    return done('max_tokens');
  }
  content.push(call);
  return done('tool_use');
}

/**
 * Which tool the answer calls, if any, as a model for agents would: `none` or no tools: none.
 * `tool`: the named one. `any`: the tool the last user message asks for, else the first. `auto`
 * (the default): a tool only when the last user message asks for one, and never in answer to a
 * tool_result (the answer to a tool's result is text, so an agent's loop ends). A message asks for
 * a tool when its own words (not the `<system-reminder>` blocks a client adds) name it (`lookup
 * order` for `lookup_order`) or ask to read, list, search or run something and a tool for that
 * exists (`Read`, `Glob`, `Grep`, `Bash`).
 */
export function chooseTool(request: MessagesRequest): ToolDefinition | undefined {
  const tools = (request.tools ?? []).filter((tool) => tool.input_schema !== undefined);
  const choice = request.tool_choice ?? { type: 'auto' };
  if (tools.length === 0 || choice.type === 'none') return undefined;
  if (choice.type === 'tool') return tools.find((tool) => tool.name === choice.name);
  const last = lastTurn(request);
  const hasToolResult = Array.isArray(last?.content) && last.content.some((b) => b.type === 'tool_result');
  const text = last?.role === 'user' ? ownWords(last.content).toLowerCase() : '';
  const asked = askedTool(text, tools);
  if (choice.type === 'any') return asked ?? tools[0];
  return hasToolResult ? undefined : asked;
}

/** The last user or assistant turn: system messages after it (the client's environment notes) are not a turn. */
function lastTurn(request: MessagesRequest): MessagesRequest['messages'][number] | undefined {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    if (request.messages[i]!.role !== 'system') return request.messages[i];
  }
  return undefined;
}

/** Words a tool's name may have besides the one saying what it does (`read_file`, `run_command`). */
const objectWords = new Set([
  'file',
  'files',
  'dir',
  'directory',
  'content',
  'contents',
  'text',
  'command',
  'tool',
]);

/**
 * What a request asks a tool to do: the verbs that ask, and the words of a tool's name that do it.
 * A tool qualifies when every word of its name is one of those or an object word (`ListAgents`
 * does not list files).
 */
const intents: Array<{ asks: RegExp; does: Set<string> }> = [
  {
    asks: /\b(read|open|show|view|cat|print|contents? of)\b/,
    does: new Set(['read', 'view', 'cat', 'open']),
  },
  { asks: /\b(list|ls|glob)\b|\bfind (the |all )?files\b/, does: new Set(['list', 'ls', 'glob', 'find']) },
  { asks: /\b(search|grep)\b/, does: new Set(['grep', 'search']) },
  {
    asks: /\b(run|execute)\b/,
    does: new Set(['bash', 'shell', 'run', 'exec', 'execute', 'command', 'terminal']),
  },
];

function askedTool(text: string, tools: ToolDefinition[]): ToolDefinition | undefined {
  if (!text) return undefined;
  // A name made of several words (`lookup_order`) is a request when written out.
  const named = tools.find((tool) => nameWords(tool.name).length > 1 && mentions(text, tool.name));
  if (named) return named;
  for (const intent of intents) {
    if (!intent.asks.test(text)) continue;
    const tool = tools.find((t) => {
      const words = nameWords(t.name);
      return (
        words.some((word) => intent.does.has(word)) &&
        words.every((word) => intent.does.has(word) || objectWords.has(word))
      );
    });
    if (tool) return tool;
  }
  return undefined;
}

/** `read_file`, `readFile`, `Read` → its lower-case words. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

function mentions(text: string, name: string): boolean {
  const lower = name.toLowerCase();
  return text.includes(lower) || text.includes(lower.replace(/[_-]/g, ' '));
}

/** The user's own words: text blocks, without the `<system-reminder>` sections clients add. */
function ownWords(content: MessagesRequest['messages'][number]['content']): string {
  return messageText(content).replace(/<system-reminder>[\s\S]*?<\/system-reminder>/g, ' ');
}

function messageText(content: MessagesRequest['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  return content
    .filter((block) => block.type === 'text')
    .map((block) => String(block.text))
    .join('\n');
}

/**
 * Arguments a model would give the tool: its required properties, a path, command or pattern
 * taken from the request where the property asks for one (a relative path made absolute against
 * the working directory the prompt names, when the schema asks for an absolute one), schema-valid
 * values for the rest.
 */
export function toolInput(request: MessagesRequest, tool: ToolDefinition, rng: Rng): unknown {
  const schema = tool.input_schema ?? { type: 'object' };
  const base = valueForSchema(schema, rng);
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return base;
  const input = base as Record<string, unknown>;
  const properties = (schema.properties ?? {}) as Record<string, { type?: unknown; description?: unknown }>;
  const last = lastTurn(request);
  const words = last ? ownWords(last.content) : '';
  for (const name of Object.keys(input)) {
    const property = properties[name] ?? {};
    if (property.type !== 'string') continue;
    const lower = name.toLowerCase();
    if (/path|file/.test(lower)) {
      const path = mentionedPath(words);
      if (path) input[name] = absoluteIfAsked(path, String(property.description ?? ''), request);
    } else if (/command|cmd/.test(lower)) {
      input[name] = /`([^`]+)`/.exec(words)?.[1] ?? 'ls';
    } else if (/pattern|glob|query/.test(lower)) {
      input[name] = /`([^`]+)`/.exec(words)?.[1] ?? /\S*\*\S*/.exec(words)?.[0] ?? '*';
    }
  }
  return input;
}

/** A file path written in the text: with a slash, or a name with an extension. */
function mentionedPath(text: string): string | undefined {
  const quoted = /`([^`\s]+)`/.exec(text)?.[1];
  if (quoted && /[/.]/.test(quoted)) return quoted;
  const match =
    /(?:^|[\s"'(])((?:~|\.{1,2})?\/?(?:[\w.-]+\/)*[\w-]+\.[A-Za-z0-9]{1,8})(?=$|[\s"'),:;!?]|\.(?:\s|$))/.exec(
      text,
    );
  return match?.[1];
}

function absoluteIfAsked(path: string, description: string, request: MessagesRequest): string {
  if (path.startsWith('/') || !/absolute/i.test(description)) return path;
  const directory = workingDirectory(request);
  return directory ? `${directory.replace(/\/$/, '')}/${path.replace(/^\.\//, '')}` : path;
}

/** The working directory a client states in its prompt (`Working directory: /…`). */
function workingDirectory(request: MessagesRequest): string | undefined {
  const texts = [
    typeof request.system === 'string' ? request.system : messageText(request.system ?? []),
    ...request.messages.map((m) => messageText(m.content)),
  ];
  for (const text of texts) {
    const found = /working directory:\s*(\/\S+)/i.exec(text)?.[1];
    if (found) return found;
  }
  return undefined;
}

/** Exactly `tokens` tokens of sentences made of filler words. */
export function fillerText(rng: Rng, tokens: number): string {
  let text = '';
  let left = tokens;
  while (left > 0) {
    const words = rng.int(4, 9);
    for (let i = 0; i < words && left > 0; i++, left--) {
      const word = rng.pick(fillerWords);
      if (i === 0) text += (text ? ' ' : '') + word[0]!.toUpperCase() + word.slice(1);
      else text += ` ${word}`;
    }
    if (left > 0) {
      text += '.';
      left--;
    }
  }
  return text;
}

function findStopSequence(
  text: string,
  sequences: string[] | undefined,
): { index: number; sequence: string } | undefined {
  let found: { index: number; sequence: string } | undefined;
  for (const sequence of sequences ?? []) {
    if (!sequence) continue;
    const index = text.indexOf(sequence);
    if (index >= 0 && (!found || index < found.index)) found = { index, sequence };
  }
  return found;
}

function signature(seed: number): string {
  const digest = createHash('sha512').update(`thinking:${seed}`).digest();
  return Buffer.concat([digest, digest]).toString('base64');
}
