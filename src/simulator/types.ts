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
  /** `system` mid-conversation: an instruction from the application (Claude Code sends them). */
  role: 'user' | 'assistant' | 'system';
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
  | { type: 'adaptive' }
  | { type: 'between_tools' };

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
  /** 0 pre-warms the cache: no output, usage counted. */
  max_tokens: number;
  stream?: boolean;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  /** `output_config.effort`: low, medium, high, xhigh or max. */
  effort?: string;
  inference_geo?: string;
  speed?: 'standard' | 'fast';
}

/** Blocks of an answer. */
export type OutputBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | {
      type: 'server_tool_use';
      id: string;
      name: 'web_search';
      input: { query: string };
      caller: { type: 'direct' };
    }
  | {
      type: 'web_search_tool_result';
      tool_use_id: string;
      content: WebSearchResult[] | WebSearchError;
      caller: { type: 'direct' };
    };

export interface WebSearchResult {
  type: 'web_search_result';
  url: string;
  title: string;
  encrypted_content: string;
  page_age: string | null;
}

export interface WebSearchError {
  type: 'web_search_tool_result_error';
  error_code: 'max_uses_exceeded';
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

export interface Usage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  /** Present when the request offers a server tool (web search or web fetch). */
  server_tool_use?: { web_search_requests: number; web_fetch_requests: number };
  service_tier: 'standard' | 'batch';
  inference_geo: string;
  speed: 'standard' | 'fast';
}
