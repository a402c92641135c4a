/** The request shapes the simulator reads, after validation. */
export interface CacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
}

export interface ContentBlock {
  type: string;
  cache_control?: CacheControl;
  [field: string]: unknown;
}

export interface MessageParam {
  role: 'user' | 'assistant';
  content: string | ContentBlock[];
}

export type JsonSchema = { [keyword: string]: unknown };

export interface ToolDefinition {
  name: string;
  type?: string;
  description?: string;
  input_schema?: JsonSchema;
  cache_control?: CacheControl;
  [field: string]: unknown;
}

export type ToolChoice =
  | { type: 'auto' | 'any' | 'none'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean };

export type ThinkingConfig =
  | { type: 'enabled'; budget_tokens: number }
  | { type: 'disabled' }
  | { type: 'adaptive' };

/** What count_tokens and messages share: everything that makes up the prompt. */
export interface PromptRequest {
  model: string;
  messages: MessageParam[];
  system?: string | ContentBlock[];
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  thinking?: ThinkingConfig;
  cache_control?: CacheControl;
}

export interface MessagesRequest extends PromptRequest {
  max_tokens: number;
  stream?: boolean;
  stop_sequences?: string[];
  temperature?: number;
}

/** Blocks of an answer. */
export type OutputBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown };

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface Usage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  service_tier: 'standard';
}
