import { v7 as uuidv7 } from 'uuid';
import type { ConfirmPublisher } from './publisher.js';
import {
  ORDERS_BATCH_CONTENT_TYPE,
  ORDERS_COUNT_HEADER,
  ROUTING,
  type OrderPlaced,
  type OrdersBatch,
} from './topology.js';

/**
 * One order as its own `order.placed` message (the shape before issue 23, and still the shape of a lone,
 * traced, retried, re-published or replayed order): the order as JSON, messageId = orderId.
 */
export function publishOrder(
  publisher: ConfirmPublisher,
  order: OrderPlaced,
  headers: Record<string, unknown> = { 'x-request-id': order.requestId, 'x-attempt': 0 },
): Promise<void> {
  return publisher.publish(ROUTING.placed, order, { messageId: order.orderId, headers });
}

/** The body of a batch message, built once. */
export const batchBody = (orders: OrderPlaced[]): Buffer =>
  Buffer.from(JSON.stringify({ orders } satisfies OrdersBatch));

export interface OrderBatcherOptions {
  /** At most this many orders per message (SECKILL_PUBLISH_BATCH_MAX, ≥ 2 here). */
  maxOrders: number;
  /** 0: flush at the end of the event-loop turn (setImmediate); else after this many ms (SECKILL_PUBLISH_BATCH_MS). */
  windowMs: number;
}

interface Waiting {
  order: OrderPlaced;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Puts every order accepted in one event-loop turn (or one window) into one persistent, mandatory,
 * confirmed message, so the broker and amqplib pay per message, not per order. Each order's promise
 * settles on its message's confirm: a nack, return, timeout or lost channel rejects every order of that
 * message, and each purchase gives its own unit back as after a failed single publish. A turn with one
 * order sends it as a single message: a quiet sale looks as before, and a worker reads both shapes.
 */
export class OrderBatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly publisher: ConfirmPublisher,
    private readonly opts: OrderBatcherOptions,
  ) {}

  place(order: OrderPlaced): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ order, resolve, reject });
      if (this.waiting.length >= this.opts.maxOrders) this.send(this.waiting.splice(0));
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      // A full batch may have left already; what is left is less than one.
      if (this.waiting.length) this.send(this.waiting.splice(0));
    };
    if (this.opts.windowMs > 0) setTimeout(flush, this.opts.windowMs);
    else setImmediate(flush);
  }

  private send(group: Waiting[]): void {
    const orders = group.map((w) => w.order);
    const sent =
      orders.length === 1
        ? publishOrder(this.publisher, orders[0] as OrderPlaced)
        : this.publisher.publish(ROUTING.placed, batchBody(orders), {
            messageId: `batch-${uuidv7()}`,
            contentType: ORDERS_BATCH_CONTENT_TYPE,
            headers: { [ORDERS_COUNT_HEADER]: orders.length, 'x-attempt': 0 },
          });
    sent.then(
      () => group.forEach((w) => w.resolve()),
      (err: Error) => group.forEach((w) => w.reject(err)),
    );
  }
}
