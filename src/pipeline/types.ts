import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Cost } from '../catalog/cost.js';
import type { ModelInfo } from '../catalog/schema.js';
import type { KeyGuards } from '../limits/runaway-config.js';
import type { CallSignal } from './signal.js';

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
  /** Server-tool uses (web search is billed per use; code execution per container hour). */
  server_tool_use?: ServerToolUse;
  /** `standard`, `priority` or `batch`: batch is billed at the batch multiplier. */
  service_tier?: string;
  /** Where inference ran ("us", "global"), possibly from the workspace default. */
  inference_geo?: string;
  /** `standard` or `fast`: fast is billed at the fast-mode rates. */
  speed?: string;
}

export interface ServerToolUse {
  web_search_requests?: number;
  web_fetch_requests?: number;
  code_execution_requests?: number;
}

export type Priority = 'interactive' | 'batch';
export type RouteTier = 'fast' | 'reasoning' | 'critical';

/** Per-key quotas: requests per minute, tokens per minute and per day. */
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
  /** Who the key belongs to (keys made for a developer). */
  developer?: string;
  /** The key's own runaway-guard settings (docs/limits.md). */
  guards?: KeyGuards;
}

export interface RouteDecision {
  tier: RouteTier;
  /** Classifier score; null when the client named the tier with an alias. */
  score: number | null;
  reasons: string[];
  source: 'classifier' | 'rule' | 'alias';
  rule?: string;
  /** The `x-sluice-route` header value explaining the decision. */
  header?: string;
}

/** One request's state as it flows through the stages. Each stage reads and adds its part. */
export interface Call {
  id: string;
  /** performance.now() when the request arrived; durations are measured from it. */
  receivedAt: number;
  /** Wall-clock time of arrival, epoch ms (prices and windows are chosen by it). */
  startedAtMs: number;
  path: string;
  /** The HTTP method (default: GET for Models, POST otherwise). */
  method?: string;
  /** The route that serves the call, as its path pattern (metrics label, log field). */
  endpoint?: string;
  /** The path's parameters (`{file_id}` …), decoded and checked. */
  params?: Record<string, string>;
  /** The query string, `?…` included, or empty. */
  query?: string;
  headers: IncomingHttpHeaders;
  /** The request's body as it arrives (the body stage reads it); absent when the body is given. */
  source?: IncomingMessage;
  body: MessagesRequestBody;
  /** The bytes as received; forwarded unchanged unless a stage changed `body` (then re-serialised). */
  rawBody: Buffer;
  bodyChanged: boolean;
  /**
   * A body passed through as it arrives (uploads), never held whole; the call cannot be retried
   * once it has been sent.
   */
  bodyStream?: Readable;
  /** How usage is read from the answer (none: the endpoint reports no billable usage). */
  usageReader?: UsageReader;
  /** The call's usage goes to the ledger (Messages, the OpenAI-compatible layer). */
  ledger?: boolean;
  /**
   * A small JSON answer (2xx) is handed over before it is sent: to remember who created an
   * object, or to filter a list. Answers of calls without it are streamed through as they come.
   */
  rewriteAnswer?: (status: number, body: Buffer) => Promise<Buffer> | Buffer;
  /** Aborted when the client goes away. */
  signal: CallSignal;
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
  /** Each upstream attempt: performance.now() when sent and when its answer (or failure) came; status 0 for none. */
  attemptLog?: Array<{ startedAt: number; answeredAt?: number; status: number }>;
  usage?: Usage;
  firstByteAt?: number;
  finishedAt?: number;
  /** Final HTTP status sent to the client. */
  status?: number;
  /** Anthropic error type when the call ended in an error (also mid-stream). */
  errorType?: string;
  /** Cost of the call, once priced (see catalog/cost). */
  cost?: Cost;
  /** Reservations (rate limits, budgets) taken on the way in and settled when the call ends. */
  holds: Hold[];
}

/** Something reserved for a call (a rate-limit admission, a budget reservation). */
export interface Hold {
  /** The call ended: reconcile with its actual usage and cost (`call.usage` may be missing). */
  settle(call: Call): void;
}

/** Reads an endpoint's usage: from a whole JSON answer, or from its SSE stream as it passes. */
export interface UsageReader {
  json(body: Buffer): Usage | undefined;
  stream(): StreamUsageTap;
  /** The stream can carry Sluice's `sluice_cost` event (Messages' event layout). */
  costEvent: boolean;
}

/** Reads a copy of an SSE stream as it passes (see upstream/sse-usage). */
export interface StreamUsageTap {
  readonly usage: Usage;
  /** Usage was reported (a stream cut before it reports nothing). */
  readonly sawMessageStart: boolean;
  /** The stream reached its normal end. */
  readonly sawMessageStop: boolean;
  readonly error?: { type: string; message: string };
  push(chunk: Buffer, collect?: boolean): string[];
  flush(): string;
}
