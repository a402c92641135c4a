import type { Histogram } from 'prom-client';
import type { MessagesRequestBody } from '../pipeline/types.js';

export interface EstimatorOptions {
  /** Characters per token for each tokenizer family before any calibration. */
  charsPerToken?: Record<string, number>;
  /** Weight of each observation in the moving average of actual / estimated (0–1). */
  smoothing?: number;
  /** Observes actual / estimated input tokens, labelled by tokenizer. */
  errorHistogram?: Histogram<'tokenizer'>;
}

/** English prose is about 3.5 characters per token for claude-v1; claude-v2 counts about 30 % more tokens. */
const defaultCharsPerToken: Record<string, number> = { 'claude-v1': 3.5, 'claude-v2': 3.5 / 1.3 };
const fallbackCharsPerToken = 3.5 / 1.3;
/** Anthropic's own estimate for an image of typical size (width × height / 750, ~1.15 MP). */
const tokensPerImage = 1600;
const tokensPerMessage = 4;
const tokensPerRequest = 8;

/**
 * Estimates a request's input tokens from its body without a tokenizer: characters divided by
 * a per-family ratio, then scaled by a factor learned from the usage Anthropic reports.
 */
export class InputTokenEstimator {
  private readonly charsPerToken: Record<string, number>;
  private readonly smoothing: number;
  private readonly factors = new Map<string, number>();
  private readonly observations = new Map<string, number>();

  constructor(private readonly options: EstimatorOptions = {}) {
    this.charsPerToken = { ...defaultCharsPerToken, ...options.charsPerToken };
    this.smoothing = options.smoothing ?? 0.2;
  }

  estimate(body: MessagesRequestBody, tokenizer: string): number {
    const size = measure(body);
    const perChar = 1 / (this.charsPerToken[tokenizer] ?? fallbackCharsPerToken);
    const textTokens = size.chars * perChar + size.messages * tokensPerMessage + tokensPerRequest;
    return Math.ceil(textTokens * this.factor(tokenizer) + size.images * tokensPerImage);
  }

  /** The learned correction for a tokenizer family (1 = the initial ratio was right). */
  factor(tokenizer: string): number {
    return this.factors.get(tokenizer) ?? 1;
  }

  /**
   * Calibrates from a finished request: total input (input + cache writes + cache reads) versus
   * what was estimated. Averaged in log space so over- and under-estimates weigh alike.
   */
  observe(tokenizer: string, estimated: number, actual: number): void {
    if (estimated <= 0 || actual <= 0) return;
    const ratio = actual / estimated;
    this.options.errorHistogram?.observe({ tokenizer }, ratio);
    const bounded = Math.min(5, Math.max(0.2, ratio));
    // A plain average over the first observations, then a moving one: the first answer already calibrates.
    const seen = (this.observations.get(tokenizer) ?? 0) + 1;
    this.observations.set(tokenizer, seen);
    const weight = Math.max(this.smoothing, 1 / seen);
    // Requests in flight were estimated with an older factor, and each one's ratio moves it
    // again: hundreds ending together compound into a factor of 1e-30 or 1e30 (measured in the
    // soak: a 30-character prompt estimated past the whole input-token limit, answered 429).
    // Kept within the same bounds as one observation.
    const next = this.factor(tokenizer) * bounded ** weight;
    this.factors.set(tokenizer, Math.min(5, Math.max(0.2, next)));
  }

  /** Learned factors by tokenizer family, for the admin snapshot. */
  learnedFactors(): Record<string, number> {
    return Object.fromEntries(this.factors);
  }
}

interface BodySize {
  chars: number;
  /** UTF-8 bytes of the same text: what the reservation bound counts. */
  bytes: number;
  messages: number;
  /** Tool definitions, tool_use and tool_result blocks: each has some framing of its own. */
  toolParts: number;
  images: number;
}

/** Framing the API adds that the body's text does not show, at most this many tokens per part. */
const boundTokensPerRequest = 16;
const boundTokensPerMessage = 8;
const boundTokensPerToolPart = 16;

/**
 * An upper bound on a request's input tokens, for budget reservations: every tokenizer encodes
 * text as byte sequences and no token covers less than one byte, so text never has more tokens
 * than UTF-8 bytes, whatever the script (CJK, emoji, punctuation, code). Framing and images are
 * added at their own allowances. Nothing learned enters it: a bound, not an estimate.
 *
 * Not bounded by bytes: base64 PDFs (counted as their decoded bytes, as in `estimate`) and
 * Anthropic-defined tools whose definition the API expands (counted as the JSON sent).
 */
export function inputTokenBound(body: MessagesRequestBody): number {
  const size = measure(body);
  return Math.ceil(
    size.bytes +
      boundTokensPerRequest +
      size.messages * boundTokensPerMessage +
      size.toolParts * boundTokensPerToolPart +
      size.images * tokensPerImage,
  );
}

function measure(body: MessagesRequestBody): BodySize {
  const size: BodySize = {
    chars: 0,
    bytes: 0,
    messages: body.messages?.length ?? 0,
    toolParts: 0,
    images: 0,
  };
  addContent(size, body.system);
  for (const message of body.messages ?? []) addContent(size, message.content);
  for (const tool of body.tools ?? []) {
    addText(size, JSON.stringify(tool));
    size.toolParts += 1;
  }
  return size;
}

function addText(size: BodySize, text: string): void {
  size.chars += text.length;
  size.bytes += Buffer.byteLength(text, 'utf8');
}

/** Counts what the model reads: text, tool inputs and results; images at a flat rate. */
function addContent(size: BodySize, content: unknown): void {
  if (typeof content === 'string') {
    addText(size, content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const block of content as Array<Record<string, unknown>>) {
    if (!block || typeof block !== 'object') continue;
    switch (block.type) {
      case 'text':
        if (typeof block.text === 'string') addText(size, block.text);
        break;
      case 'image':
        size.images += 1;
        break;
      case 'tool_use':
        addText(size, JSON.stringify(block.input ?? {}));
        addText(size, String(block.name ?? ''));
        size.toolParts += 1;
        break;
      case 'tool_result':
        addContent(size, block.content);
        size.toolParts += 1;
        break;
      case 'thinking':
        if (typeof block.thinking === 'string') addText(size, block.thinking);
        break;
      case 'document':
        addDocument(size, block.source);
        break;
      default:
        addText(size, JSON.stringify(block));
    }
  }
}

function addDocument(size: BodySize, source: unknown): void {
  const src = source as { type?: string; data?: unknown; content?: unknown } | undefined;
  if (src?.type === 'text' && typeof src.data === 'string') addText(size, src.data);
  else if (src?.type === 'content') addContent(size, src.content);
  // A base64 PDF: roughly one image per 3 KB page plus its text; counted as decoded bytes.
  else if (typeof src?.data === 'string') {
    size.chars += (src.data.length * 3) / 4;
    size.bytes += (src.data.length * 3) / 4;
  }
}
