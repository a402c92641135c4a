import fc from 'fast-check';
import type { Usage } from '../../src/pipeline/types.js';

/**
 * Settings of the property-based (fuzz) suites. Seeded, so a run is reproducible: a failure
 * prints its seed and path, and `SLUICE_FUZZ_SEED=<seed> SLUICE_FUZZ_PATH=<path>` replays
 * exactly that case. `SLUICE_FUZZ_SCALE` multiplies the number of runs (e.g. 10 for a long
 * local search with `SLUICE_FUZZ_SEED=random`).
 */
export function fuzzParameters<T>(numRuns: number): fc.Parameters<T> {
  const seedText = process.env.SLUICE_FUZZ_SEED;
  const seed =
    seedText === 'random'
      ? Date.now() ^ (Math.random() * 0x100000000)
      : seedText
        ? Number(seedText)
        : 20_261_127;
  const scale = Number(process.env.SLUICE_FUZZ_SCALE ?? '1') || 1;
  return {
    seed,
    path: process.env.SLUICE_FUZZ_PATH,
    numRuns: Math.max(1, Math.round(numRuns * scale)),
    // A failing case is shrunk to a small one, within bounds that keep the suite's time in check.
    interruptAfterTimeLimit: 60_000 * scale,
    markInterruptAsFailure: true,
  };
}

/** Usage fields of `message_start` / `message_delta`, sometimes with values the tap must ignore. */
const usagePatch = fc.record(
  {
    input_tokens: fc.oneof(fc.nat({ max: 2_000_000 }), fc.constant(null), fc.string({ maxLength: 3 })),
    output_tokens: fc.oneof(fc.nat({ max: 200_000 }), fc.constant(null)),
    cache_creation_input_tokens: fc.nat({ max: 100_000 }),
    cache_read_input_tokens: fc.nat({ max: 100_000 }),
    cache_creation: fc.record({
      ephemeral_5m_input_tokens: fc.nat({ max: 100_000 }),
      ephemeral_1h_input_tokens: fc.nat({ max: 100_000 }),
    }),
    service_tier: fc.constantFrom('standard', 'priority'),
  },
  { requiredKeys: [] },
);

/** Text that tries to look like SSE framing or usage once escaped into JSON. */
const trickyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '\n\nevent: message_delta\ndata: {"usage":{"output_tokens":999}}\n\n',
    '"usage": {"output_tokens": 5}',
    'event: error',
    'data: {"type":"message_stop"}',
    '🦀 日本語 \u2028 \r\n\r\n',
  ),
);

/** One SSE event of a Messages stream, as its name and data (the data is any JSON value). */
export type StreamEvent = { name: string; data: unknown } | { name: string; rawData: string };

export const streamEvent: fc.Arbitrary<StreamEvent> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      name: fc.constant('message_start'),
      data: fc.record({
        type: fc.constant('message_start'),
        message: fc.record({
          id: fc.constant('msg_fuzz'),
          model: fc.constant('claude-haiku-4-5'),
          usage: usagePatch,
        }),
      }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      name: fc.constant('content_block_delta'),
      data: fc.record({
        type: fc.constant('content_block_delta'),
        index: fc.nat({ max: 3 }),
        delta: fc.record({ type: fc.constant('text_delta'), text: trickyText }),
      }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ name: fc.constant('ping'), data: fc.constant({ type: 'ping' }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      name: fc.constant('message_delta'),
      data: fc.record({
        type: fc.constant('message_delta'),
        delta: fc.record({ stop_reason: fc.constantFrom('end_turn', 'max_tokens', 'tool_use', null) }),
        usage: usagePatch,
      }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      name: fc.constant('error'),
      data: fc.record({
        type: fc.constant('error'),
        error: fc.record({ type: fc.constantFrom('overloaded_error', 'api_error'), message: trickyText }),
      }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ name: fc.constant('message_stop'), data: fc.constant({ type: 'message_stop' }) }),
  },
  // Data that is not JSON: the tap must skip it, as a client would fail to parse it.
  {
    weight: 1,
    arbitrary: fc.record({
      name: fc.constantFrom('message_delta', 'message_start', 'content_block_delta'),
      rawData: fc.string({ maxLength: 20 }).filter((s) => !/[\r\n]/.test(s)),
    }),
  },
);

/** How an event is laid out: all of these are valid SSE for the same event. */
const layout = fc.record({
  spaceAfterColon: fc.boolean(),
  multiLineData: fc.boolean(),
  comment: fc.boolean(),
  id: fc.boolean(),
  eventLast: fc.boolean(),
});

export function formatEvent(event: StreamEvent, how: LayoutChoice): string {
  const sp = how.spaceAfterColon ? ' ' : '';
  const json =
    'rawData' in event ? event.rawData : JSON.stringify(event.data, null, how.multiLineData ? 1 : undefined);
  const dataLines = json.split('\n').map((line) => `data:${sp}${line}`);
  const eventLine = `event:${sp}${event.name}`;
  const lines = how.eventLast ? [...dataLines, eventLine] : [eventLine, ...dataLines];
  if (how.id) lines.splice(1, 0, 'id: 7');
  if (how.comment) lines.unshift(': keep-alive');
  return `${lines.join('\n')}\n\n`;
}

export type LayoutChoice = {
  spaceAfterColon: boolean;
  multiLineData: boolean;
  comment: boolean;
  id: boolean;
  eventLast: boolean;
};

/** A whole upstream stream: its events, the SSE text, and the byte offsets where it arrives split. */
export const upstreamStream = fc
  .tuple(
    fc.array(fc.tuple(streamEvent, layout), { minLength: 1, maxLength: 14 }),
    fc.array(fc.nat(), { maxLength: 12 }),
  )
  .map(([events, cuts]) => {
    const text = events.map(([event, how]) => formatEvent(event, how)).join('');
    const bytes = Buffer.from(text);
    const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let at = 0;
    for (const offset of [...offsets, bytes.length]) {
      if (offset > at) chunks.push(bytes.subarray(at, offset));
      at = Math.max(at, offset);
    }
    return { text, bytes, chunks };
  });

/** What a client reading the stream by the SSE specification learns from it: the reference for the tap. */
export interface StreamReading {
  usage: Usage;
  sawMessageStart: boolean;
  sawMessageStop: boolean;
  stopReason?: string;
  errorType?: string;
}

/** Parses SSE text by the WHATWG rules (fields, comments, multi-line data) and reads usage from it. */
export function referenceReading(text: string): StreamReading {
  const reading: StreamReading = {
    usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    sawMessageStart: false,
    sawMessageStop: false,
  };
  let name = '';
  let data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data.length > 0) dispatch(reading, name || 'message', data.join('\n'));
      name = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  return reading;
}

function dispatch(reading: StreamReading, name: string, data: string): void {
  if (name === 'message_stop') {
    reading.sawMessageStop = true;
    return;
  }
  if (name !== 'message_start' && name !== 'message_delta' && name !== 'error') return;
  type Patch = Record<string, unknown> & { cache_creation?: Record<string, number> };
  let parsed: {
    message?: { usage?: Patch };
    usage?: Patch;
    delta?: { stop_reason?: string };
    error?: { type?: string };
  };
  try {
    parsed = JSON.parse(data);
  } catch {
    return;
  }
  if (name === 'error') {
    reading.errorType = parsed?.error?.type ?? 'api_error';
    return;
  }
  const patch = name === 'message_start' ? parsed?.message?.usage : parsed?.usage;
  if (name === 'message_start') reading.sawMessageStart = true;
  if (name === 'message_delta' && parsed?.delta?.stop_reason) reading.stopReason = parsed.delta.stop_reason;
  if (!patch || typeof patch !== 'object') return;
  for (const field of [
    'input_tokens',
    'output_tokens',
    'cache_creation_input_tokens',
    'cache_read_input_tokens',
  ] as const)
    if (typeof patch[field] === 'number') reading.usage[field] = patch[field] as number;
  if (patch.cache_creation && typeof patch.cache_creation === 'object')
    reading.usage.cache_creation = {
      ephemeral_5m_input_tokens: patch.cache_creation.ephemeral_5m_input_tokens ?? 0,
      ephemeral_1h_input_tokens: patch.cache_creation.ephemeral_1h_input_tokens ?? 0,
    };
}
