import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

/** OTLP/HTTP JSON as the exporters send it (only the parts the test reads). */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
}

/** A minimal OTLP/HTTP receiver: keeps what arrives at /v1/traces and /v1/metrics. */
async function startReceiver(): Promise<{ url: string; server: Server; bodies: Map<string, unknown[]> }> {
  const bodies = new Map<string, unknown[]>([
    ['/v1/traces', []],
    ['/v1/metrics', []],
  ]);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      expect(req.headers['content-type']).toContain('application/json');
      bodies.get(req.url ?? '')?.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bodies };
}

function attributes(list: KeyValue[]): Record<string, string | number> {
  return Object.fromEntries(
    list.map(({ key, value }) => [
      key,
      value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue!),
    ]),
  );
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let stack: Stack;
beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startStack({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'sluice-test' },
    yaml: { limits: { enabled: false } },
  });
});
afterAll(async () => {
  await stack.close();
  receiver.server.close();
});

describe('OpenTelemetry export', () => {
  it('sends one span per request with each upstream attempt as a child, in the GenAI conventions', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpanId = '00f067aa0ba902b7';
    stack.simulator.faults.script([{ status: 529 }]);
    const { data } = await stack
      .sdk({ defaultHeaders: { traceparent: `00-${traceId}-${clientSpanId}-01` } })
      .messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 32,
        messages: [{ role: 'user', content: 'Hello' }],
      })
      .withResponse();
    await stack.gateway.telemetry!.flush();

    const spans = receiver.bodies
      .get('/v1/traces')!
      .flatMap(
        (b) => (b as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }).resourceSpans,
      )
      .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))
      .filter((s) => s.traceId === traceId);
    const server = spans.find((s) => s.kind === 2)!;
    expect(server.name).toBe('POST /v1/messages');
    expect(server.parentSpanId).toBe(clientSpanId);
    expect(attributes(server.attributes)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-haiku-4-5',
      'gen_ai.response.model': data.model,
      'gen_ai.request.max_tokens': 32,
      'gen_ai.usage.output_tokens': data.usage.output_tokens,
      'http.response.status_code': 200,
      'sluice.key.name': 'prod-backend-v1',
    });

    const attempts = spans
      .filter((s) => s.kind === 3)
      .sort((a, b) => Number(BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano)));
    expect(attempts.map((s) => s.parentSpanId)).toEqual([server.spanId, server.spanId]);
    expect(attempts.map((s) => s.name)).toEqual([`chat ${data.model}`, `chat ${data.model}`]);
    expect(attempts.map((s) => attributes(s.attributes)['http.response.status_code'])).toEqual([529, 200]);
    expect(attributes(attempts[0]!.attributes)['error.type']).toBe('529');
    // Children inside their parent's time.
    for (const attempt of attempts) {
      expect(BigInt(attempt.startTimeUnixNano) >= BigInt(server.startTimeUnixNano)).toBe(true);
      expect(BigInt(attempt.endTimeUnixNano) <= BigInt(server.endTimeUnixNano)).toBe(true);
    }
    // No secret travels in telemetry.
    expect(JSON.stringify(receiver.bodies.get('/v1/traces'))).not.toContain(stack.key);

    const points = receiver.bodies
      .get('/v1/metrics')!
      .flatMap(
        (b) =>
          (
            b as {
              resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<Record<string, unknown>> }> }>;
            }
          ).resourceMetrics,
      )
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
      .filter((m) => m.name === 'gen_ai.client.token.usage')
      .flatMap(
        (m) =>
          (
            m.histogram as {
              dataPoints: Array<{ attributes: KeyValue[]; sum: number; count: string | number }>;
            }
          ).dataPoints,
      );
    const output = points.find((p) => attributes(p.attributes)['gen_ai.token.type'] === 'output')!;
    expect(output.sum).toBe(data.usage.output_tokens);
    expect(Number(output.count)).toBe(1);
  });

  it('is off by default', async () => {
    const plain = await startStack();
    try {
      expect(plain.gateway.telemetry).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
