import {
  context,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export const TRACER_NAME = 'containerops';

export interface TelemetryOptions {
  /** Resource service name; the standalone launcher names itself `containerops`. */
  serviceName: string;
  /** OTLP/HTTP endpoint (e.g. http://jaeger:4318). Export is off when absent. */
  otlpEndpoint?: string;
  /** Extra exporter, used by tests to collect spans in memory. */
  spanExporter?: SpanExporter;
  /** Patch Node's http client so outgoing requests carry `traceparent`. */
  instrumentHttpClient?: boolean;
}

let provider: NodeTracerProvider | undefined;

/**
 * Starts the tracer provider once per process. Server spans for HTTP, gRPC and bus
 * messages are created by the service kit itself (so they carry route and subject names
 * and behave the same under any module loader); the http instrumentation is only used
 * for outgoing calls.
 */
export function startTelemetry(options: TelemetryOptions): NodeTracerProvider {
  if (provider) return provider;
  const spanProcessors: SpanProcessor[] = [];
  if (options.otlpEndpoint) {
    const url = options.otlpEndpoint.replace(/\/+$/, '') + '/v1/traces';
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  if (options.spanExporter) spanProcessors.push(new SimpleSpanProcessor(options.spanExporter));
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors,
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  if (options.instrumentHttpClient !== false) {
    registerInstrumentations({
      instrumentations: [new HttpInstrumentation({ disableIncomingRequestInstrumentation: true })],
    });
  }
  return provider;
}

export async function shutdownTelemetry(): Promise<void> {
  const current = provider;
  provider = undefined;
  await current?.shutdown();
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export type HeaderCarrier = Record<string, string>;

/** Writes the active (or given) context as W3C `traceparent`/`tracestate` headers. */
export function injectTraceHeaders(carrier: HeaderCarrier = {}, ctx: Context = context.active()): HeaderCarrier {
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractTraceContext(carrier: Record<string, string | string[] | undefined>): Context {
  const flat: HeaderCarrier = {};
  for (const [key, value] of Object.entries(carrier)) {
    if (value === undefined) continue;
    flat[key.toLowerCase()] = Array.isArray(value) ? value[0] : value;
  }
  return propagation.extract(context.active(), flat);
}

/** The `traceparent` of the active span, if any; stored in event metadata. */
export function currentTraceparent(): string | undefined {
  return injectTraceHeaders({}).traceparent;
}

export function currentTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/**
 * Runs `work` inside a new span (child of `parent`, or of the active context),
 * recording an exception and error status when it throws.
 */
export async function withSpan<T>(
  name: string,
  options: {
    kind?: SpanKind;
    parent?: Context;
    /** Contexts this span relates to without being their child (a batch of messages). */
    links?: Context[];
    attributes?: Record<string, string | number | boolean>;
  },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const links = (options.links ?? [])
    .map((linked) => trace.getSpanContext(linked))
    .filter((linked): linked is SpanContext => linked !== undefined && isSpanContextValid(linked))
    .map((linked) => ({ context: linked }));
  const span = tracer().startSpan(name, { kind: options.kind, attributes: options.attributes, links }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

export { SpanKind, SpanStatusCode, context, trace };

/** Environment variables the preloaded telemetry module reads. */
export const TELEMETRY_ENV_KEYS = ['OTEL_SERVICE_NAME', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const;
