import type { CacheControl, ContentBlock, PromptRequest } from './types.js';

/**
 * The simulator's tokenizer. A token is: a run of up to N ASCII letters (N = 4 for `claude-v1`,
 * 3 for `claude-v2`, which gives v2 about 30 % more tokens on English text), a run of up to 3
 * digits, or any other single character; whitespace belongs to the token that follows it.
 * Generated text uses words of at most three letters, so each word is one token under both.
 */
export function countTextTokens(text: string, tokenizer: string): number {
  const letterRun = tokenizer === 'claude-v1' ? 4 : 3;
  let count = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const code = text.charCodeAt(i);
    if (isSpace(code)) {
      while (i < length && isSpace(text.charCodeAt(i))) i++;
      if (i === length) count++;
      continue;
    }
    if (isLetter(code)) {
      const start = i;
      while (i < length && isLetter(text.charCodeAt(i))) i++;
      count += Math.ceil((i - start) / letterRun);
      continue;
    }
    if (isDigit(code)) {
      const start = i;
      while (i < length && isDigit(text.charCodeAt(i))) i++;
      count += Math.ceil((i - start) / 3);
      continue;
    }
    // A surrogate pair is one character.
    i += code >= 0xd800 && code <= 0xdbff ? 2 : 1;
    count++;
  }
  return count;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}
function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}
function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Fixed costs of the prompt's framing, in tokens. */
export const tokenCosts = {
  /** Every prompt. */
  prompt: 4,
  /** Each message's role header. */
  message: 3,
  /** Each tool definition, on top of its JSON. */
  toolDefinition: 8,
  /** A tool_use or tool_result block's framing. */
  toolBlock: 4,
  /** An image, whatever its size. */
  image: 1600,
  /** A PDF or URL document. */
  document: 2000,
  /** One web search result's page content, read back into the context (input tokens). */
  searchResult: 500,
} as const;

/** One cacheable unit of the prompt, in prompt order: tools, then system, then message blocks. */
export interface PromptBlock {
  tokens: number;
  /** What identifies the block in a cache key (the block without its cache_control). */
  source: unknown;
  cacheControl?: CacheControl;
}

/** The prompt as blocks, with their token counts. The total input is `tokenCosts.prompt` + their sum. */
export function promptBlocks(request: PromptRequest, tokenizer: string): PromptBlock[] {
  const blocks: PromptBlock[] = [];
  for (const tool of request.tools ?? []) {
    const { cache_control, ...definition } = tool;
    blocks.push({
      tokens: tokenCosts.toolDefinition + countTextTokens(JSON.stringify(definition), tokenizer),
      source: definition,
      cacheControl: cache_control,
    });
  }
  if (typeof request.system === 'string') {
    blocks.push({ tokens: countTextTokens(request.system, tokenizer), source: request.system });
  } else {
    for (const block of request.system ?? []) blocks.push(contentBlock(block, tokenizer));
  }
  for (const message of request.messages) {
    const first = blocks.length;
    if (typeof message.content === 'string') {
      blocks.push({ tokens: countTextTokens(message.content, tokenizer), source: message.content });
    } else {
      for (const block of message.content) blocks.push(contentBlock(block, tokenizer));
    }
    const head = blocks[first];
    const roleHeader = { tokens: tokenCosts.message, source: message.role };
    if (head)
      blocks[first] = {
        ...head,
        tokens: head.tokens + roleHeader.tokens,
        source: [message.role, head.source],
      };
    else blocks.push(roleHeader);
  }
  return blocks;
}

/** Input tokens of a prompt: what count_tokens answers and what `usage` splits up. */
export function countPromptTokens(request: PromptRequest, tokenizer: string): number {
  let total = tokenCosts.prompt;
  for (const block of promptBlocks(request, tokenizer)) total += block.tokens;
  return total;
}

function contentBlock(block: ContentBlock, tokenizer: string): PromptBlock {
  const { cache_control, ...source } = block;
  return { tokens: contentTokens(source, tokenizer), source, cacheControl: cache_control };
}

function contentTokens(block: { type: string; [field: string]: unknown }, tokenizer: string): number {
  switch (block.type) {
    case 'text':
      return countTextTokens(String(block.text), tokenizer);
    case 'image':
      return tokenCosts.image;
    case 'document':
      return documentTokens(block.source, tokenizer);
    case 'thinking':
      return countTextTokens(String(block.thinking), tokenizer);
    case 'redacted_thinking':
      return countTextTokens(String(block.data), tokenizer);
    case 'tool_use':
      return (
        tokenCosts.toolBlock +
        countTextTokens(String(block.name), tokenizer) +
        countTextTokens(JSON.stringify(block.input ?? {}), tokenizer)
      );
    case 'tool_result':
      return tokenCosts.toolBlock + nestedContentTokens(block.content, tokenizer);
    default:
      return countTextTokens(JSON.stringify(block), tokenizer);
  }
}

function nestedContentTokens(content: unknown, tokenizer: string): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === 'string') return countTextTokens(content, tokenizer);
  if (!Array.isArray(content)) return countTextTokens(JSON.stringify(content), tokenizer);
  let total = 0;
  for (const item of content) {
    const { cache_control: _ignored, ...rest } = item as ContentBlock;
    total += contentTokens(rest, tokenizer);
  }
  return total;
}

function documentTokens(source: unknown, tokenizer: string): number {
  const doc = (source ?? {}) as { type?: string; data?: unknown; content?: unknown };
  if (doc.type === 'text') return countTextTokens(String(doc.data ?? ''), tokenizer);
  if (doc.type === 'content') return nestedContentTokens(doc.content, tokenizer);
  return tokenCosts.document;
}

/** Output tokens of generated blocks, counted with the same tokenizer. */
export function countOutputTokens(
  blocks: ReadonlyArray<{ type: string; text?: string; thinking?: string; name?: string; input?: unknown }>,
  tokenizer: string,
): number {
  let total = 0;
  for (const block of blocks) {
    if (block.type === 'text') total += countTextTokens(block.text ?? '', tokenizer);
    else if (block.type === 'thinking') total += countTextTokens(block.thinking ?? '', tokenizer);
    else if (block.type === 'tool_use' || block.type === 'server_tool_use')
      total +=
        tokenCosts.toolBlock +
        countTextTokens(block.name ?? '', tokenizer) +
        countTextTokens(JSON.stringify(block.input ?? {}), tokenizer);
  }
  return total;
}
