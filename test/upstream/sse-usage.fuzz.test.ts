import fc from 'fast-check';
import { expect, it } from 'vitest';
import { SseUsageTap } from '../../src/upstream/sse-usage.js';
import { fuzzParameters, referenceReading, upstreamStream } from '../helpers/fuzz.js';

// Part of the fuzz suite's 10,000 generated inputs per run (with test/server/gateway.fuzz.test.ts).
const TAP_RUNS = 6000;

it(`reads the same usage as a by-the-spec SSE parse, whatever the layout and chunking (${TAP_RUNS} streams)`, () => {
  fc.assert(
    fc.property(upstreamStream, fc.boolean(), ({ text, chunks }, collect) => {
      const tap = new SseUsageTap();
      const passed: string[] = [];
      for (const chunk of chunks) passed.push(...tap.push(chunk, collect));
      const rest = tap.flush();
      // Collecting whole events (for the cost event) still passes every byte on, in order.
      if (collect) expect(passed.join('') + rest).toBe(text);
      const reference = referenceReading(text);
      expect(tap.sawMessageStart).toBe(reference.sawMessageStart);
      expect(tap.sawMessageStop).toBe(reference.sawMessageStop);
      if (reference.sawMessageStart) expect(tap.usage).toEqual(reference.usage);
      expect(tap.stopReason).toBe(reference.stopReason);
      expect(tap.error?.type).toBe(reference.errorType);
    }),
    fuzzParameters(TAP_RUNS),
  );
});
