import {
  type Attributes,
  context,
  defaultTextMapGetter,
  type Histogram,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { formatUsdExact } from '../catalog/money.js';
import type { Config } from '../config/schema.js';
import type { Call } from '../pipeline/types.js';

/**
 * OpenTelemetry traces and metrics over OTLP/HTTP, following the GenAI semantic conventions:
 * one SERVER span per request (`POST /v1/messages`), one CLIENT span per upstream attempt
 * (`chat <model>`) as its child, `gen_ai.*` attributes, and the `gen_ai.client.token.usage` and
 * `gen_ai.client.operation.duration` histograms. A `traceparent` sent by the client (Claude Code
 * sends one when asked to) makes the request span part of the client's trace.
 *
 * Spans are made when a call ends, from the times the pipeline recorded, so the request path
 * pays nothing while the call runs; export is batched off the path.
 */
export class Telemetry {
  private readonly tracer: Tracer;
  private readonly tokenUsage: Histogram;
  private readonly duration: Histogram;
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly serverAddress: string;

  private constructor(
    private readonly tracerProvider: TracerProvider,
    private readonly meterProvider: MeterProvider,
    upstreamUrl: string,
  ) {
    this.tracer = tracerProvider.getTracer('sluice');
    const meter = meterProvider.getMeter('sluice');
    this.tokenUsage = meter.createHistogram('gen_ai.client.token.usage', {
      description: 'Tokens used per upstream call, by gen_ai.token.type (input, output)',
      unit: '{token}',
      advice: { explicitBucketBoundaries: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576] },
    });
    this.duration = meter.createHistogram('gen_ai.client.operation.duration', {
      description: 'Duration of a request through Sluice to the model, to the end of the answer',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] },
    });
    this.serverAddress = new URL(upstreamUrl).hostname;
  }

  /** Telemetry as configured, or undefined when no OTLP endpoint is set (the default). */
  static fromConfig(config: Config): Telemetry | undefined {
    const endpoint = config.telemetry.otlpEndpoint;
    if (!endpoint) return undefined;
    const base = endpoint.replace(/\/$/, '');
    const resource = resourceFromAttributes({ 'service.name': config.telemetry.serviceName });
    const headers = config.telemetry.headers;
    const tracerProvider = new TracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({ url: `${base}/v1/traces`, headers }),
          scheduledDelayMillis: 1000,
        }),
      ],
    });
    const meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, headers }),
          exportIntervalMillis: config.telemetry.metricsIntervalMs,
        }),
      ],
    });
    return new Telemetry(tracerProvider, meterProvider, config.upstream.url);
  }

  /** Spans and measurements for a call that has ended. */
  observe(call: Call): void {
    const origin = performance.timeOrigin;
    const end = origin + (call.finishedAt ?? performance.now());
    const parent = this.propagator.extract(context.active(), call.headers, headerGetter);
    const requestedModel = call.requestedModel ?? call.body?.model ?? '';
    const responseModel = call.model?.id;
    const operation = call.path === '/v1/messages/count_tokens' ? 'count_tokens' : 'chat';
    const genAi: Attributes = {
      'gen_ai.operation.name': operation,
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.system': 'anthropic',
      ...(requestedModel ? { 'gen_ai.request.model': requestedModel } : {}),
      ...(responseModel ? { 'gen_ai.response.model': responseModel } : {}),
    };
    const status = call.status ?? 0;
    const span = this.tracer.startSpan(
      `${call.source?.method ?? 'POST'} ${routeOf(call.path)}`,
      {
        kind: SpanKind.SERVER,
        startTime: origin + call.receivedAt,
        attributes: {
          ...genAi,
          'http.request.method': call.source?.method ?? 'POST',
          'http.route': routeOf(call.path),
          'http.response.status_code': status,
          ...(typeof call.body?.max_tokens === 'number'
            ? { 'gen_ai.request.max_tokens': call.body.max_tokens }
            : {}),
          ...usageAttributes(call),
          ...(call.principal
            ? { 'sluice.key.name': call.principal.name, 'sluice.environment': call.principal.environment }
            : {}),
          ...(call.route
            ? { 'sluice.route.tier': call.route.tier, 'sluice.route.source': call.route.source }
            : {}),
          ...(call.cost ? { 'sluice.cost_usd': Number(formatUsdExact(call.cost.pico)) } : {}),
          'sluice.request_id': call.id,
          ...(call.upstream?.requestId ? { 'sluice.upstream_request_id': call.upstream.requestId } : {}),
          ...(status >= 400 ? { 'error.type': call.errorType ?? String(status) } : {}),
        },
      },
      parent,
    );
    if (status >= 500 || status === 0)
      span.setStatus({ code: SpanStatusCode.ERROR, message: call.errorType });

    const attempts = call.attemptLog ?? [];
    const withSpan = trace.setSpan(parent, span);
    attempts.forEach((attempt, index) => {
      const last = index === attempts.length - 1;
      const child = this.tracer.startSpan(
        `${operation} ${responseModel ?? requestedModel}`,
        {
          kind: SpanKind.CLIENT,
          startTime: origin + attempt.startedAt,
          attributes: {
            ...genAi,
            'server.address': this.serverAddress,
            'http.response.status_code': attempt.status,
            'sluice.attempt': index + 1,
            ...(last ? usageAttributes(call) : {}),
            ...(attempt.status === 0 || attempt.status >= 400
              ? { 'error.type': attempt.status === 0 ? 'connection_error' : String(attempt.status) }
              : {}),
          },
        },
        withSpan,
      );
      if (attempt.status === 0 || attempt.status >= 500) child.setStatus({ code: SpanStatusCode.ERROR });
      // The last attempt lasts until its answer has been relayed; earlier ones end with their answer.
      child.end(last ? end : origin + (attempt.answeredAt ?? attempt.startedAt));
    });
    span.end(end);

    if (attempts.length > 0 && call.finishedAt !== undefined) {
      const metricAttributes = {
        ...genAi,
        ...(status >= 400 ? { 'error.type': call.errorType ?? String(status) } : {}),
      };
      this.duration.record((call.finishedAt - call.receivedAt) / 1000, metricAttributes);
      if (call.usage) {
        const input =
          call.usage.input_tokens +
          call.usage.cache_creation_input_tokens +
          call.usage.cache_read_input_tokens;
        this.tokenUsage.record(input, { ...genAi, 'gen_ai.token.type': 'input' });
        this.tokenUsage.record(call.usage.output_tokens, { ...genAi, 'gen_ai.token.type': 'output' });
      }
    }
  }

  /** Sends what is buffered and stops (on shutdown). */
  async shutdown(): Promise<void> {
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
  }

  /** Sends what is buffered now (tests, and before a planned stop). */
  async flush(): Promise<void> {
    await Promise.allSettled([this.tracerProvider.forceFlush(), this.meterProvider.forceFlush()]);
  }
}

const headerGetter = {
  ...defaultTextMapGetter,
  get(carrier: Call['headers'], key: string) {
    const value = carrier[key];
    return Array.isArray(value) ? value[0] : value;
  },
};

function usageAttributes(call: Call): Attributes {
  const usage = call.usage;
  if (!usage) return {};
  return {
    // Input as the conventions count it: everything the model read, cached or not.
    'gen_ai.usage.input_tokens':
      usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens,
    'gen_ai.usage.output_tokens': usage.output_tokens,
    'gen_ai.usage.cache_read.input_tokens': usage.cache_read_input_tokens,
    'gen_ai.usage.cache_creation.input_tokens': usage.cache_creation_input_tokens,
  };
}

function routeOf(path: string): string {
  return path.startsWith('/v1/models/') ? '/v1/models/{id}' : path;
}
