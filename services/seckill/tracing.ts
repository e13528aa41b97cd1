import {
  context,
  extractFrom,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
  tracingEnabled,
} from '../core/tracing.js';
import type { HotRequest } from './purchase-route.js';

type Handler = (h: HotRequest) => Promise<void>;

/**
 * The purchase as a server span that starts or continues the caller's W3C `traceparent`; the script and
 * the publish are its children. Without tracing the handler is returned as it is: nothing on the hot path.
 */
export function tracedPurchase(handler: Handler): Handler {
  if (!tracingEnabled()) return handler;
  return async (h) => {
    const parent = extractFrom(h.req.headers as Record<string, unknown>);
    const span = tracer().startSpan(
      'POST /seckill/:activity',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'POST',
          'http.route': '/seckill/:activity',
          'stampede.request_id': h.id,
        },
      },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), () => handler(h));
    } finally {
      span.setAttribute('http.response.status_code', h.res.statusCode);
      if (h.res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
