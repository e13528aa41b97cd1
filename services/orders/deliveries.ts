import type { ConsumeMessage } from 'amqplib';
import { ORDERS_BATCH_CONTENT_TYPE, ORDERS_COUNT_HEADER } from '../core/messaging/topology.js';
import type { Verdict } from './batch.js';

/**
 * One delivery from the broker and the per-order messages it carries. A single-order message is its own
 * part; a batch message (issue 23) is taken apart into one synthetic message per order, so the claim, the
 * insert, the retry tiers and the parking lot all keep working per order. Only `msg` is ever acked.
 */
export interface Delivery {
  msg: ConsumeMessage;
  parts: ConsumeMessage[];
}

export const isBatchMessage = (m: ConsumeMessage): boolean =>
  m.properties.contentType === ORDERS_BATCH_CONTENT_TYPE;

/** The items of a batch body, or null when it cannot be split (not JSON, no non-empty `orders` array). */
export function batchItems(content: Buffer): unknown[] | null {
  try {
    const v = JSON.parse(content.toString('utf8')) as { orders?: unknown } | null;
    const orders = v && typeof v === 'object' ? v.orders : undefined;
    return Array.isArray(orders) && orders.length > 0 ? (orders as unknown[]) : null;
  } catch {
    return null;
  }
}

/** The parsed item behind each part of a batch: processBatch validates it without parsing JSON again. */
const items = new WeakMap<ConsumeMessage, unknown>();

/** The order a part carries when it came out of a batch (already parsed), else undefined. */
export const batchItemOf = (part: ConsumeMessage): unknown => items.get(part);

/**
 * One order of a batch as the single message it would have been: that order's JSON as content, the
 * delivery's properties and headers (its attempt count) but `application/json`, messageId = orderId and
 * the order's own `x-request-id`. A retry or a park re-publishes exactly this, alone. The content is
 * written only when asked for: a part that is simply written to Postgres never needs it.
 */
export function orderMessage(delivery: ConsumeMessage, item: unknown): ConsumeMessage {
  const { [ORDERS_COUNT_HEADER]: _count, ...headers } = delivery.properties.headers ?? {};
  const o = item !== null && typeof item === 'object' ? (item as Record<string, unknown>) : {};
  if (typeof o.requestId === 'string') headers['x-request-id'] = o.requestId;
  let content: Buffer | undefined;
  const part: ConsumeMessage = {
    get content() {
      return (content ??= Buffer.from(JSON.stringify(item)));
    },
    fields: delivery.fields,
    properties: {
      ...delivery.properties,
      contentType: 'application/json',
      messageId: typeof o.orderId === 'string' ? o.orderId : delivery.properties.messageId,
      headers,
    },
  };
  items.set(part, item);
  return part;
}

/** A delivery and its parts. A batch body that cannot be split is one part: parked whole, as malformed. */
export function expand(msg: ConsumeMessage): Delivery {
  const items = isBatchMessage(msg) ? batchItems(msg.content) : null;
  return { msg, parts: items ? items.map((it) => orderMessage(msg, it)) : [msg] };
}

export const ordersIn = (ds: Delivery[]): number => ds.reduce((s, d) => s + d.parts.length, 0);

/**
 * How many of the first deliveries make the next batch: whole deliveries only (the `multiple` ack relies
 * on batches cut at delivery boundaries), at most `size` orders unless the first one alone holds more.
 */
export function cut(pending: Delivery[], size: number): number {
  let n = 0;
  let orders = 0;
  for (const d of pending) {
    if (n > 0 && orders + d.parts.length > size) break;
    n++;
    orders += d.parts.length;
  }
  return n;
}

/** Each delivery's verdicts, out of the verdicts of all the parts of a batch in delivery order. */
export function verdictsPerDelivery(ds: Delivery[], verdicts: Verdict[]): Verdict[][] {
  let at = 0;
  return ds.map((d) => verdicts.slice(at, (at += d.parts.length)));
}
