import type { IncomingHttpHeaders } from 'node:http';
import type { ModelInfo } from '../catalog/schema.js';

/** The Messages request body. Unknown fields are kept and forwarded as they are. */
export interface MessagesRequestBody {
  model: string;
  max_tokens?: number;
  messages: Array<{ role: string; content: unknown }>;
  system?: string | Array<{ type: string; text?: string; [k: string]: unknown }>;
  stream?: boolean;
  tools?: Array<{ name: string; input_schema?: unknown; [k: string]: unknown }>;
  tool_choice?: { type: string; name?: string; [k: string]: unknown };
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'disabled' } | { type: string };
  metadata?: { user_id?: string; [k: string]: unknown };
  cache_control?: unknown;
  [field: string]: unknown;
}

/** Usage as Anthropic reports it (the last `message_delta` carries the cumulative counts when streaming). */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

export type Priority = 'interactive' | 'batch';
export type RouteTier = 'fast' | 'reasoning' | 'critical';

/** Per-key quotas (the seed's RPM / TPM / TPD). */
export interface Quotas {
  rpm?: number;
  tpm?: number;
  tpd?: number;
}

/** What authentication makes of a virtual key. */
export interface Principal {
  keyId: string;
  name: string;
  environment: string;
  models?: string[];
  maxTokens?: number;
  quotas?: Quotas;
  priority?: Priority;
  routing?: { maxTier?: RouteTier; allowAuto?: boolean };
}

export interface RouteDecision {
  tier: RouteTier;
  score: number;
  reasons: string[];
  rule?: string;
}

/** One request's state as it flows through the stages. Each stage reads and adds its part. */
export interface Call {
  id: string;
  receivedAt: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: MessagesRequestBody;
  /** The bytes as received; forwarded unchanged unless a stage changed `body` (then re-serialised). */
  rawBody: Buffer;
  bodyChanged: boolean;
  signal: AbortSignal;
  principal?: Principal;
  requestedModel?: string;
  model?: ModelInfo;
  route?: RouteDecision;
  priority: Priority;
  /** Input tokens estimated before sending (admission uses it; accounting reconciles it). */
  estimatedInputTokens?: number;
  upstream?: {
    status: number;
    requestId?: string;
    attempts: number;
    fallbackFrom?: string;
  };
  usage?: Usage;
  firstByteAt?: number;
  finishedAt?: number;
}
