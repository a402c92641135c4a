/**
 * The part of a Messages API request body that routing reads. Deliberately lenient: unknown
 * block types and fields pass through untouched, routing only looks.
 */
export interface ContentBlock {
  type: string;
  text?: string;
  content?: string | ContentBlock[];
  [field: string]: unknown;
}

export interface MessageParam {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

export interface MessagesRequestBody {
  model: string;
  max_tokens: number;
  messages: MessageParam[];
  system?: string | ContentBlock[];
  tools?: Array<{ name?: string; description?: string; [field: string]: unknown }>;
  thinking?: { type: string; budget_tokens?: number };
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}
