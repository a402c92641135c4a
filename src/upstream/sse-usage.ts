import type { ServerToolUse, Usage } from '../pipeline/types.js';

/** Usage fields as they appear in `message_start` and `message_delta`; absent fields leave the total as it was. */
type UsagePatch = Partial<Usage> & {
  cache_creation?: Usage['cache_creation'] | null;
  server_tool_use?: ServerToolUse | null;
};

export function emptyUsage(): Usage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

export function applyUsage(usage: Usage, patch: UsagePatch | undefined): void {
  if (!patch) return;
  if (typeof patch.input_tokens === 'number') usage.input_tokens = patch.input_tokens;
  if (typeof patch.output_tokens === 'number') usage.output_tokens = patch.output_tokens;
  if (typeof patch.cache_creation_input_tokens === 'number')
    usage.cache_creation_input_tokens = patch.cache_creation_input_tokens;
  if (typeof patch.cache_read_input_tokens === 'number')
    usage.cache_read_input_tokens = patch.cache_read_input_tokens;
  if (patch.cache_creation) {
    usage.cache_creation = {
      ephemeral_5m_input_tokens: patch.cache_creation.ephemeral_5m_input_tokens ?? 0,
      ephemeral_1h_input_tokens: patch.cache_creation.ephemeral_1h_input_tokens ?? 0,
    };
  }
  // Counts are cumulative like the token counts; the rest is said once, in message_start.
  const tools = patch.server_tool_use;
  if (tools && typeof tools === 'object') {
    usage.server_tool_use ??= {};
    const counts: ServerToolUse = usage.server_tool_use;
    for (const field of serverToolFields) if (typeof tools[field] === 'number') counts[field] = tools[field];
  }
  if (typeof patch.service_tier === 'string') usage.service_tier = patch.service_tier;
  if (typeof patch.inference_geo === 'string') usage.inference_geo = patch.inference_geo;
  if (typeof patch.speed === 'string') usage.speed = patch.speed;
}

const serverToolFields = ['web_search_requests', 'web_fetch_requests', 'code_execution_requests'] as const;

/** The fields of `message_start`, `message_delta` and `error` events that the tap reads. */
interface SseEventData {
  message?: { model?: string; usage?: UsagePatch };
  usage?: UsagePatch;
  delta?: { stop_reason?: string };
  error?: { type?: string; message?: string };
}

/**
 * Usage of a non-streamed Messages response body. The API writes `usage` last, so only that
 * object is parsed (from the bytes, without decoding the rest); anything unexpected falls back
 * to parsing the whole body.
 */
export function usageFromJson(body: string | Buffer): { usage?: Usage } {
  const patch = usageObjectNearEnd(body) ?? wholeBodyUsage(body.toString());
  if (!patch) return {};
  const usage = emptyUsage();
  applyUsage(usage, patch);
  return { usage };
}

function usageObjectNearEnd(text: string | Buffer): UsagePatch | undefined {
  // Scanned as UTF-8 bytes: no ASCII byte occurs inside a multi-byte character, so the ASCII
  // punctuation that matters here is found as it is.
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  const at = body.lastIndexOf(USAGE_KEY);
  if (at <= 0 || body[at - 1] === 92 /* \ : inside a string */) return undefined;
  const open = at + USAGE_KEY.length;
  if (body[open] !== 123 /* { */) return undefined;
  let depth = 0;
  for (let i = open; i < body.length; i++) {
    const c = body[i];
    if (c === 34 /* " */) {
      // Skip a string (keys, service_tier…), escapes included, so braces inside it do not count.
      for (i++; i < body.length && body[i] !== 34; i++) if (body[i] === 92) i++;
      continue;
    }
    if (c === 123) depth++;
    else if (c === 125 /* } */ && --depth === 0) {
      try {
        return JSON.parse(body.toString('utf8', open, i + 1)) as UsagePatch;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const USAGE_KEY = Buffer.from('"usage":');

function wholeBodyUsage(body: string): UsagePatch | undefined {
  try {
    return (JSON.parse(body) as { usage?: UsagePatch }).usage;
  } catch {
    return undefined;
  }
}

/**
 * Splits a server-sent event stream into events at blank lines as its bytes pass, keeping the
 * tail of an unfinished event for the next chunk; a subclass reads the events that matter.
 */
export abstract class SseEventReader {
  private pending: Buffer | undefined;

  /** Reads one whole event (its text with the blank line). */
  protected abstract read(event: string): void;

  /** Whether the event starting at `start` needs decoding at all (a cheap look at its bytes). */
  protected matters(_bytes: Buffer, _start: number): boolean {
    return true;
  }

  /**
   * Takes the next chunk. With `collect`, returns the events it completed, each as its raw text
   * with the blank line (for event-aligned writing); otherwise returns an empty list.
   * Events are found in the bytes (a blank line cannot occur inside a UTF-8 character), and only
   * the few that matter are decoded unless collecting: text deltas, most of a stream, are not.
   */
  push(chunk: Buffer, collect = false): string[] {
    const bytes = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const events: string[] = collect ? [] : NO_EVENTS;
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(BLANK_LINE, start);
      if (end === -1) break;
      const matters = this.matters(bytes, start);
      if (collect) {
        const event = bytes.toString('utf8', start, end + 2);
        if (matters) this.read(event);
        events.push(event);
      } else if (matters) this.read(bytes.toString('utf8', start, end + 2));
      start = end + 2;
    }
    this.pending = start < bytes.length ? bytes.subarray(start) : undefined;
    return events;
  }

  /** Whatever is left after the stream ended without a final blank line. */
  flush(): string {
    const rest = this.pending?.toString('utf8') ?? '';
    this.pending = undefined;
    if (rest.trim()) this.read(rest);
    return rest;
  }
}

/**
 * Reads a copy of a Messages SSE stream as it passes and keeps the usage (cumulative in
 * `message_delta`), the stop reason and any `error` event. Only the few events that carry usage
 * are parsed as JSON; text deltas are skipped by looking at their event name.
 */
export class SseUsageTap extends SseEventReader {
  readonly usage: Usage = emptyUsage();
  model?: string;
  stopReason?: string;
  error?: { type: string; message: string };
  sawMessageStart = false;
  sawMessageStop = false;

  protected override matters(bytes: Buffer, start: number): boolean {
    return mayMatter(bytes, start);
  }

  protected read(block: string): void {
    const name = eventName(block);
    if (name !== 'message_start' && name !== 'message_delta' && name !== 'error' && name !== 'message_stop')
      return;
    if (name === 'message_stop') {
      this.sawMessageStop = true;
      return;
    }
    const data = eventData(block);
    if (data === undefined) return;
    let parsed: SseEventData;
    try {
      parsed = JSON.parse(data) as SseEventData;
    } catch {
      return;
    }
    if (name === 'message_start') {
      this.sawMessageStart = true;
      this.model = parsed?.message?.model;
      applyUsage(this.usage, parsed?.message?.usage);
    } else if (name === 'message_delta') {
      applyUsage(this.usage, parsed?.usage);
      if (parsed?.delta?.stop_reason) this.stopReason = parsed.delta.stop_reason;
    } else {
      this.error = { type: parsed?.error?.type ?? 'api_error', message: parsed?.error?.message ?? '' };
    }
  }
}

const BLANK_LINE = Buffer.from('\n\n');
const NO_EVENTS: string[] = [];

/**
 * Whether the event starting at `start` may carry usage, the stop or an error: `event: m…`
 * (message_*) or `event: e…` (error), or any block not laid out as `event: …` first.
 */
function mayMatter(bytes: Buffer, start: number): boolean {
  const laidOut = bytes[start] === 101 /* e */ && bytes[start + 5] === 58 /* : */ && bytes[start + 6] === 32;
  if (!laidOut) return true;
  const first = bytes[start + 7];
  return first === 109 /* m */ || first === 101 /* e */;
}

function eventName(block: string): string | undefined {
  const at = block.startsWith('event:') ? 0 : block.indexOf('\nevent:') + 1;
  if (at === 0 && !block.startsWith('event:')) return undefined;
  const lineEnd = block.indexOf('\n', at);
  return block.slice(at + 6, lineEnd === -1 ? undefined : lineEnd).trim();
}

function eventData(block: string): string | undefined {
  // The usual shape, `event: …\ndata: {…}\n\n`: one data line, taken as it is.
  const at = block.indexOf('\ndata: ');
  if (at !== -1 && block.endsWith('\n\n') && block.indexOf('\n', at + 7) === block.length - 2)
    return block.slice(at + 7, block.length - 2);
  const lines = block.split('\n').filter((line) => line.startsWith('data:'));
  if (lines.length === 0) return undefined;
  return lines.map((line) => line.slice(5).replace(/^ /, '').replace(/\r$/, '')).join('\n');
}

/** An extra SSE event a client may ask for; SDKs skip event types they do not know. */
export function sseEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
