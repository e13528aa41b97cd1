import type { ConsumeMessage } from 'amqplib';
import {
  context,
  extractFrom,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
  tracingEnabled,
  type Link,
  type Span,
} from '../core/tracing.js';

/**
 * The spans of one batch: a batch span linking every message's publish span, and per traced message an
 * order span in that order's own trace (the child of its publish), so one purchase is one trace from the
 * seckill request to the insert of its row. Work done once for the batch (the claim, the insert) is a
 * child of the batch span and, for the orders it served, of each order span too.
 */
export class BatchTrace {
  private constructor(
    private readonly batch: Span,
    private readonly orders: (Span | null)[],
  ) {}

  static start(msgs: ConsumeMessage[]): BatchTrace | null {
    if (!tracingEnabled()) return null;
    const parents = msgs.map((m) => extractFrom(m.properties.headers as Record<string, unknown> | undefined));
    const links: Link[] = parents.flatMap((c) => {
      const sc = trace.getSpanContext(c);
      return sc ? [{ context: sc }] : [];
    });
    const batch = tracer().startSpan(
      'orders batch',
      { kind: SpanKind.CONSUMER, links, attributes: { 'messaging.batch.message_count': msgs.length } },
      ROOT_CONTEXT,
    );
    const orders = parents.map((p, i) =>
      trace.getSpanContext(p)
        ? tracer().startSpan(
            'order.placed process',
            {
              kind: SpanKind.CONSUMER,
              links: [{ context: batch.spanContext() }],
              attributes: { 'messaging.message.id': String(msgs[i]?.properties.messageId ?? '') },
            },
            p,
          )
        : null,
    );
    return new BatchTrace(batch, orders);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(trace.setSpan(ROOT_CONTEXT, this.batch), fn);
  }

  /** `fn` as a child of the batch span and of the order spans of the messages at `indexes`. */
  async step<T>(name: string, indexes: number[], fn: () => Promise<T>): Promise<T> {
    const start = Date.now();
    const mine = tracer().startSpan(name, { kind: SpanKind.CLIENT, startTime: start });
    let failed: string | null = null;
    try {
      return await context.with(trace.setSpan(context.active(), mine), fn);
    } catch (err) {
      failed = (err as Error).message;
      throw err;
    } finally {
      const end = Date.now();
      for (const s of [mine, ...this.childrenOf(indexes, name, start)]) {
        if (failed) s.setStatus({ code: SpanStatusCode.ERROR, message: failed });
        s.end(end);
      }
    }
  }

  end(failure?: string): void {
    for (const s of [...this.orders, this.batch]) {
      if (!s) continue;
      if (failure) s.setStatus({ code: SpanStatusCode.ERROR, message: failure });
      s.end();
    }
  }

  private childrenOf(indexes: number[], name: string, start: number): Span[] {
    return indexes.flatMap((i) => {
      const parent = this.orders[i];
      if (!parent) return [];
      const ctx = trace.setSpan(ROOT_CONTEXT, parent);
      return [tracer().startSpan(name, { kind: SpanKind.CLIENT, startTime: start }, ctx)];
    });
  }
}
