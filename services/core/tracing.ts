import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';

export {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
  type Link,
  type Span,
};

export interface TracingConfig {
  /** OTLP/HTTP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); null: no tracing at all. */
  otlpEndpoint: string | null;
  /** Share of new traces recorded (`OTEL_TRACES_SAMPLER_ARG`); a sampled caller's decision is kept. */
  sampleRatio: number;
}

let enabled = false;

/** True once a process started tracing: instrumented code skips all span work otherwise. */
export const tracingEnabled = (): boolean => enabled;

/**
 * Traces go out over OTLP/HTTP only when an endpoint is configured; without one nothing is installed and the
 * API stays the no-op it is by default, so untraced processes pay nothing on the hot path.
 */
export function startTracing(service: string, c: TracingConfig): { shutdown(): Promise<void> } {
  if (!c.otlpEndpoint) return { shutdown: () => Promise.resolve() };
  const exporter = new OTLPTraceExporter({ url: `${c.otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `stampede-${service}` }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(c.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  enabled = true;
  return { shutdown: () => provider.shutdown() };
}

export const tracer = () => trace.getTracer('stampede');

/** Runs `fn` in a child span of the active one (or just runs it when tracing is off). */
export async function inSpan<T>(
  name: string,
  fn: () => Promise<T>,
  attributes: Record<string, string | number> = {},
  kind: SpanKind = SpanKind.CLIENT,
): Promise<T> {
  if (!enabled) return fn();
  const span = tracer().startSpan(name, { kind, attributes });
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** The active span's context as W3C headers (`traceparent`, `tracestate`), added to `headers`. */
export function injectInto(headers: Record<string, unknown>): Record<string, unknown> {
  if (enabled) propagation.inject(context.active(), headers);
  return headers;
}

/** The context a message or request carries (its `traceparent`), or the root when it carries none. */
export function extractFrom(headers: Record<string, unknown> | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
}

/** `trace_id` and `span_id` of the active span for log lines (empty when there is none). */
export function logIds(): Record<string, string> {
  const span = enabled ? trace.getSpan(context.active()) : undefined;
  if (!span) return {};
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId };
}
