import type { Context } from '../core/tracing.js';
import { sampledParent, SpanKind, SpanStatusCode, trace, tracer } from '../core/tracing.js';
import type { HotRequest } from './purchase-route.js';

type Handler = (h: HotRequest) => Promise<void>;

/**
 * The purchase as a server span, for the share of requests our sample ratio draws (a caller's sampled
 * flag forces nothing); a drawn request continues the caller's W3C `traceparent` if it sent one. The
 * script and the publish are its children (through `HotRequest.trace`, passed explicitly: the hot path
 * runs without active-context tracking). An untraced request costs one random draw.
 */
export function tracedPurchase(handler: Handler): Handler {
  return async (h) => {
    const parent = sampledParent(h.req.headers as Record<string, unknown>);
    if (parent === null) return handler(h);
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
    const ctx: Context = trace.setSpan(parent, span);
    try {
      await handler({ ...h, trace: ctx });
    } finally {
      span.setAttribute('http.response.status_code', h.res.statusCode);
      if (h.res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
