import { createHash } from 'node:crypto';
import { serverToolUseId } from './ids.js';
import type { Rng } from './random.js';
import { countTextTokens, tokenCosts } from './tokens.js';
import type { MessagesRequest, OutputBlock, ToolDefinition, WebSearchResult } from './types.js';

/**
 * The simulator's web search: no network, results made up from the query. When the request
 * offers a `web_search_*` server tool, the model searches `searchesPerTurn` times before
 * answering; attempts past the tool's `max_uses` get a `max_uses_exceeded` error result, which
 * is not counted (failed searches are not billed).
 */
export const searchesPerTurn = 2;
const resultsPerSearch = 3;
const queryWords = 8;

export interface SearchTurn {
  /** server_tool_use and web_search_tool_result blocks, in order. */
  blocks: OutputBlock[];
  /** Successful searches: `usage.server_tool_use.web_search_requests`. */
  searches: number;
  /** The results read back into the context: billed as input tokens. */
  resultTokens: number;
}

/** The request's web search tool, if it offers one. */
export function webSearchTool(request: MessagesRequest): ToolDefinition | undefined {
  return request.tools?.find((tool) => tool.type?.startsWith('web_search_'));
}

/** Whether the request offers a server tool whose uses usage reports (web search or fetch). */
export function offersServerTool(request: MessagesRequest): boolean {
  return (request.tools ?? []).some(
    (tool) => tool.type?.startsWith('web_search_') || tool.type?.startsWith('web_fetch_'),
  );
}

/**
 * The searches of this turn: none when tool_choice is `none` or forces another tool, or when the
 * last user message answers a tool call. `fits(block)` says whether a server_tool_use block
 * still fits in max_tokens; the turn stops at the first that does not.
 */
export function searchTurn(
  request: MessagesRequest,
  tool: ToolDefinition,
  rng: Rng,
  fits: (block: OutputBlock) => boolean,
  tokenizer: string,
): SearchTurn {
  const turn: SearchTurn = { blocks: [], searches: 0, resultTokens: 0 };
  const choice = request.tool_choice;
  if (choice?.type === 'none' || (choice?.type === 'tool' && choice.name !== tool.name)) return turn;
  const last = request.messages[request.messages.length - 1]!;
  if (Array.isArray(last.content) && last.content.some((block) => block.type === 'tool_result')) return turn;

  const maxUses = typeof tool.max_uses === 'number' ? tool.max_uses : Number.POSITIVE_INFINITY;
  const topic = queryOf(request);
  for (let attempt = 0; attempt < searchesPerTurn; attempt++) {
    const query = attempt === 0 ? topic : `${topic} ${attempt + 1}`;
    const call: OutputBlock = {
      type: 'server_tool_use',
      id: serverToolUseId(rng.next),
      name: 'web_search',
      input: { query },
      caller: { type: 'direct' },
    };
    if (!fits(call)) break;
    turn.blocks.push(call);
    if (turn.searches >= maxUses) {
      turn.blocks.push({
        type: 'web_search_tool_result',
        tool_use_id: call.id,
        content: { type: 'web_search_tool_result_error', error_code: 'max_uses_exceeded' },
        caller: { type: 'direct' },
      });
      continue;
    }
    const results = resultsFor(query, tool, attempt);
    for (const result of results) {
      turn.resultTokens +=
        tokenCosts.searchResult + countTextTokens(`${result.title} ${result.url}`, tokenizer);
    }
    turn.blocks.push({
      type: 'web_search_tool_result',
      tool_use_id: call.id,
      content: results,
      caller: { type: 'direct' },
    });
    turn.searches++;
  }
  return turn;
}

/** The first words of the last user message: what the model looks up. */
function queryOf(request: MessagesRequest): string {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const message = request.messages[i]!;
    if (message.role !== 'user') continue;
    const text =
      typeof message.content === 'string'
        ? message.content
        : message.content
            .filter((block) => block.type === 'text')
            .map((block) => String(block.text))
            .join(' ');
    const words = text.split(/\s+/).filter(Boolean).slice(0, queryWords);
    if (words.length > 0) return words.join(' ');
  }
  return 'news';
}

/** Results on the first allowed domain when the tool restricts them, else on example.com. */
function resultsFor(query: string, tool: ToolDefinition, attempt: number): WebSearchResult[] {
  const allowed = Array.isArray(tool.allowed_domains) ? (tool.allowed_domains as string[]) : [];
  const host = allowed[0] ?? 'example.com';
  const slug = query
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return Array.from({ length: resultsPerSearch }, (_, i) => {
    const url = `https://${host}/${slug || 'result'}/${attempt + 1}-${i + 1}`;
    return {
      type: 'web_search_result',
      url,
      title: `${query} (result ${i + 1})`,
      // Opaque to clients; sent back as-is in later turns.
      encrypted_content: createHash('sha256').update(url).digest('base64'),
      page_age: null,
    };
  });
}
