import type { Channel } from 'amqplib';

/**
 * RabbitMQ names (DESIGN §6), all under STAMPEDE_PREFIX. Work flows through the topic exchange
 * `<p>.orders`; a failed message is re-published by the worker to `<p>.orders.retry` with the routing key of
 * a delay tier, waits out that tier's queue-level TTL and dead-letters back to `<p>.orders` as
 * `order.placed`. The parking lot has no TTL and is never re-fed automatically.
 */
export const DEFAULT_RETRY_TIERS_MS = [1_000, 5_000, 30_000];
export const ROUTING = { placed: 'order.placed', parked: 'parked' } as const;

export interface OrderTopology {
  exchange: string;
  placedQueue: string;
  retryExchange: string;
  retryQueues: string[];
  /** Queue-level TTL of each retry tier, in order. */
  retryTiersMs: number[];
  parkedQueue: string;
}

export function orderTopology(
  prefix: string,
  retryTiersMs: number[] = DEFAULT_RETRY_TIERS_MS,
): OrderTopology {
  return {
    exchange: `${prefix}.orders`,
    placedQueue: `${prefix}.orders.placed`,
    retryExchange: `${prefix}.orders.retry`,
    retryQueues: retryTiersMs.map((_, i) => `${prefix}.orders.retry.${i + 1}`),
    retryTiersMs,
    parkedQueue: `${prefix}.orders.parked`,
  };
}

export const retryRoutingKey = (tier: number): string => `retry.${tier}`;

const QUORUM = { 'x-queue-type': 'quorum' } as const;

/** Declares everything idempotently; the same arguments every time, or the broker refuses the redeclare. */
export async function declareOrderTopology(ch: Channel, t: OrderTopology): Promise<void> {
  await ch.assertExchange(t.exchange, 'topic', { durable: true });
  await ch.assertExchange(t.retryExchange, 'direct', { durable: true });
  await ch.assertQueue(t.placedQueue, { durable: true, arguments: QUORUM });
  await ch.bindQueue(t.placedQueue, t.exchange, ROUTING.placed);
  for (const [i, ttl] of t.retryTiersMs.entries()) {
    const q = t.retryQueues[i] as string;
    await ch.assertQueue(q, {
      durable: true,
      arguments: {
        ...QUORUM,
        'x-message-ttl': ttl,
        'x-dead-letter-exchange': t.exchange,
        'x-dead-letter-routing-key': ROUTING.placed,
      },
    });
    await ch.bindQueue(q, t.retryExchange, retryRoutingKey(i + 1));
  }
  await ch.assertQueue(t.parkedQueue, { durable: true, arguments: QUORUM });
  await ch.bindQueue(t.parkedQueue, t.retryExchange, ROUTING.parked);
}

/** The `order.placed` message body. */
export interface OrderPlaced {
  orderId: string;
  activity: string;
  userId: string;
  quantity: number;
  placedAt: string;
  requestId: string;
}

/**
 * Orders accepted together travel as one message (issue 23): body `{"orders":[<OrderPlaced>,…]}` with this
 * content type and the count in `x-orders`; a single order keeps the `OrderPlaced` body as JSON.
 */
export const ORDERS_BATCH_CONTENT_TYPE = 'application/vnd.stampede.orders+json';
export const ORDERS_COUNT_HEADER = 'x-orders';

export interface OrdersBatch {
  orders: OrderPlaced[];
}
