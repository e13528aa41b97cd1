import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
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
  AlwaysOnSampler,
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
  /**
   * Share of traces recorded (`OTEL_TRACES_SAMPLER_ARG`). At the seckill's edge it decides alone: an
   * outside caller's sampled flag is not honoured (see `sampledParent`). Inside, a parent our own services
   * sampled (the order message's headers) is followed.
   */
  sampleRatio: number;
}

let enabled = false;
let ratio = 1;

/** True once a process started tracing: instrumented code skips all span work otherwise. */
export const tracingEnabled = (): boolean => enabled;

export interface TracingOptions {
  /**
   * Active-context tracking (AsyncLocalStorage) for implicit parents and log ids. Its promise hooks slow
   * every promise of the process, so the seckill hot path runs without it and passes contexts explicitly
   * (and decides sampling itself, see `sampledParent`).
   */
  contextManager?: boolean;
}

/**
 * Traces go out over OTLP/HTTP only when an endpoint is configured; without one nothing is installed and the
 * API stays the no-op it is by default, so untraced processes pay nothing on the hot path.
 */
export function startTracing(
  service: string,
  c: TracingConfig,
  o: TracingOptions = {},
): { shutdown(): Promise<void> } {
  if (!c.otlpEndpoint) return { shutdown: () => Promise.resolve() };
  const manager = o.contextManager ?? true;
  const exporter = new OTLPTraceExporter({ url: `${c.otlpEndpoint.replace(/\/$/, '')}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `stampede-${service}` }),
    // Without a context manager the caller samples roots itself (sampledParent): the SDK keeps them.
    sampler: new ParentBasedSampler({
      root: manager ? new TraceIdRatioBasedSampler(c.sampleRatio) : new AlwaysOnSampler(),
    }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 })],
  });
  trace.setGlobalTracerProvider(provider);
  if (manager) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  enabled = true;
  ratio = c.sampleRatio;
  return { shutdown: () => provider.shutdown() };
}

export const tracer = () => trace.getTracer('stampede');

/**
 * For a request from outside on a path without active-context tracking: the parent to trace it under, or
 * null to leave it untraced (tracing off, or not drawn by the sample ratio). Our ratio alone decides: a
 * caller's sampled flag is anyone's to set, and honouring it let any client have every request traced and
 * exported. A drawn request continues the caller's trace id (marked sampled, so the SDK and the services
 * downstream keep it); an unsampled one costs one random draw.
 */
export function sampledParent(headers: Record<string, unknown>): Context | null {
  if (!enabled || Math.random() >= ratio) return null;
  if (headers.traceparent === undefined) return ROOT_CONTEXT;
  const sc = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
  if (!sc || !isSpanContextValid(sc)) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { ...sc, traceFlags: TraceFlags.SAMPLED });
}

export interface SpanOptions {
  attributes?: Record<string, string | number>;
  kind?: SpanKind;
  /** An explicit parent (paths without active-context tracking); default the active context. */
  parent?: Context;
}

/** Runs `fn` in a child span (or just runs it when tracing is off); `fn` gets the span's context. */
export async function inSpan<T>(
  name: string,
  fn: (ctx: Context) => Promise<T>,
  o: SpanOptions = {},
): Promise<T> {
  if (!enabled) return fn(ROOT_CONTEXT);
  const parent = o.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: o.kind ?? SpanKind.CLIENT, attributes: o.attributes ?? {} },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  try {
    return await (o.parent ? fn(ctx) : context.with(ctx, () => fn(ctx)));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** The context's span as W3C headers (`traceparent`, `tracestate`), added to `headers`. */
export function injectInto(
  headers: Record<string, unknown>,
  ctx: Context = context.active(),
): Record<string, unknown> {
  if (enabled) propagation.inject(ctx, headers);
  return headers;
}

/** The context a message or request carries (its `traceparent`), or the root when it carries none. */
export function extractFrom(headers: Record<string, unknown> | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
}

/** `trace_id` and `span_id` of a context's span (the active one by default) for log lines. */
export function logIds(ctx?: Context): Record<string, string> {
  const span = enabled ? trace.getSpan(ctx ?? context.active()) : undefined;
  if (!span) return {};
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId };
}
