import type { ContentBlock, MessagesRequestBody } from './request.js';

/**
 * What the classifier reads from a request: the prompt (last user turn with text), the rest of
 * the conversation, the system prompt, and request-level facts. Text is cut to a scan budget so
 * a 100k-token prompt costs a bounded scan; the full size is still counted for the length signal.
 */
export interface RequestView {
  prompt: string;
  history: string;
  system: string;
  totalChars: number;
  messageCount: number;
  images: number;
  documents: number;
  tools: number;
  toolResults: number;
  thinkingBudget: number;
  maxTokens: number;
}

export interface ScanBudget {
  /** Characters of the prompt scanned from its start and from its end. */
  promptHead: number;
  promptTail: number;
  /** Characters of the most recent earlier turns scanned. */
  history: number;
  system: number;
}

// About 4,000 tokens of the last turn and 3,000 of the rest: enough to read what a request is
// about, and it bounds the classifier's time per request whatever the prompt's length.
export const DEFAULT_SCAN_BUDGET: ScanBudget = {
  promptHead: 12_000,
  promptTail: 4_000,
  history: 8_000,
  system: 4_000,
};

/** Keeps the head and the tail of a long text: instructions usually sit at one end. */
export function clip(text: string, head: number, tail: number): string {
  if (text.length <= head + tail) return text;
  return `${text.slice(0, head)}\n${text.slice(text.length - tail)}`;
}

interface BlockCounts {
  images: number;
  documents: number;
  toolResults: number;
  chars: number;
}

function collectText(content: unknown, parts: string[], counts: BlockCounts): void {
  if (content === undefined || content === null) return;
  if (typeof content === 'string') {
    parts.push(content);
    counts.chars += content.length;
    return;
  }
  if (!Array.isArray(content)) return;
  for (const item of content as unknown[]) {
    if (!item || typeof item !== 'object') continue;
    const block = item as ContentBlock;
    if (block.type === 'image') counts.images++;
    else if (block.type === 'document') counts.documents++;
    else if (block.type === 'tool_result') counts.toolResults++;
    if (typeof block.text === 'string') {
      parts.push(block.text);
      counts.chars += block.text.length;
    }
    if (block.type === 'tool_result') collectText(block.content, parts, counts);
  }
}

function hasOwnText(content: unknown): boolean {
  if (typeof content === 'string') return content.trim().length > 0;
  return (
    Array.isArray(content) &&
    content.some((b: ContentBlock | null) => b?.type === 'text' && typeof b.text === 'string')
  );
}

export function viewRequest(
  body: MessagesRequestBody,
  budget: ScanBudget = DEFAULT_SCAN_BUDGET,
): RequestView {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  // In an agent loop the last user turn may hold only tool results: the instruction is the
  // last user turn that carries its own text.
  let promptIndex = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (message.role === 'user' && hasOwnText(message.content)) {
      promptIndex = i;
      break;
    }
  }
  const counts: BlockCounts = { images: 0, documents: 0, toolResults: 0, chars: 0 };
  const promptParts: string[] = [];
  const historyParts: string[] = [];
  let historyKept = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!;
    if (i === promptIndex) {
      collectText(message.content, promptParts, counts);
      continue;
    }
    const parts: string[] = [];
    collectText(message.content, parts, counts);
    if (historyKept < budget.history) {
      const text = parts.join('\n');
      historyParts.push(text.slice(0, budget.history - historyKept));
      historyKept += text.length;
    }
  }
  const systemParts: string[] = [];
  collectText(body.system, systemParts, counts);
  const system = systemParts.join('\n');
  const thinking = body.thinking as { type?: string; budget_tokens?: number } | undefined;
  let thinkingBudget = 0;
  if (thinking && thinking.type === 'enabled') thinkingBudget = Math.max(1024, thinking.budget_tokens ?? 0);
  else if (thinking && thinking.type === 'adaptive') thinkingBudget = 1024;
  return {
    prompt: clip(promptParts.join('\n'), budget.promptHead, budget.promptTail),
    history: historyParts.join('\n'),
    system: system.slice(0, budget.system),
    totalChars: counts.chars,
    messageCount: messages.length,
    images: counts.images,
    documents: counts.documents,
    tools: Array.isArray(body.tools) ? body.tools.length : 0,
    toolResults: counts.toolResults,
    thinkingBudget,
    maxTokens: typeof body.max_tokens === 'number' ? body.max_tokens : 0,
  };
}
