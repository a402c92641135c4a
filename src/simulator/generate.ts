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
    input: valueForSchema(tool.input_schema ?? { type: 'object' }, rng),
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
 * Which tool the answer calls, if any. `none` or no tools: none. `tool`: the named one. `any`:
 * the tool whose name the last user message mentions, else the first. `auto` (the default):
 * a tool only when the last user message mentions its name (case-insensitive, `_` or `-` may be
 * written as spaces) and carries no tool_result; an answer to a tool_result is text.
 */
export function chooseTool(request: MessagesRequest): ToolDefinition | undefined {
  const tools = (request.tools ?? []).filter((tool) => tool.input_schema !== undefined);
  const choice = request.tool_choice ?? { type: 'auto' };
  if (tools.length === 0 || choice.type === 'none') return undefined;
  if (choice.type === 'tool') return tools.find((tool) => tool.name === choice.name);
  const last = request.messages[request.messages.length - 1]!;
  const hasToolResult = Array.isArray(last.content) && last.content.some((b) => b.type === 'tool_result');
  const text = last.role === 'user' ? messageText(last.content).toLowerCase() : '';
  const mentioned = tools.find((tool) => mentions(text, tool.name));
  if (choice.type === 'any') return mentioned ?? tools[0];
  return hasToolResult ? undefined : mentioned;
}

function mentions(text: string, name: string): boolean {
  const lower = name.toLowerCase();
  return text.includes(lower) || text.includes(lower.replace(/[_-]/g, ' '));
}

function messageText(content: MessagesRequest['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  return content
    .filter((block) => block.type === 'text')
    .map((block) => String(block.text))
    .join('\n');
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
