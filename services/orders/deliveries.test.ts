import type { ConsumeMessage } from 'amqplib';
import { batchBody } from '../core/messaging/order-batcher.js';
import { ORDERS_BATCH_CONTENT_TYPE, type OrderPlaced } from '../core/messaging/topology.js';
import type { Verdict } from './batch.js';
import { batchItems, cut, expand, ordersIn, verdictsPerDelivery, type Delivery } from './deliveries.js';
import { parseOrderPlaced, salvage } from './message.js';

const order = (n: number): OrderPlaced => ({
  orderId: `0190a000-0000-7000-8000-00000000000${n}`,
  activity: 'sale-1',
  userId: `u${n}`,
  quantity: 1,
  placedAt: '2026-12-06T21:00:00.000Z',
  requestId: `req-${n}`,
});

const delivery = (content: Buffer, batch: boolean, tag = 1): ConsumeMessage => ({
  content,
  fields: {
    consumerTag: 'c',
    deliveryTag: tag,
    redelivered: false,
    exchange: 'p.orders',
    routingKey: 'order.placed',
  },
  properties: {
    contentType: batch ? ORDERS_BATCH_CONTENT_TYPE : 'application/json',
    messageId: batch ? 'batch-x' : 'single',
    headers: batch ? { 'x-orders': 2, 'x-attempt': 0 } : { 'x-request-id': 'r', 'x-attempt': 0 },
  } as unknown as ConsumeMessage['properties'],
});

describe('taking a batch message apart', () => {
  it('gives each order its own message: the JSON a single message carries, messageId = orderId', () => {
    const d = expand(delivery(batchBody([order(1), order(2)]), true));
    expect(d.parts).toHaveLength(2);
    d.parts.forEach((p, i) => {
      expect(p.content.toString()).toBe(JSON.stringify(order(i + 1)));
      expect(parseOrderPlaced(p.content)).toEqual(order(i + 1));
      expect(p.properties.messageId).toBe(order(i + 1).orderId);
      expect(p.properties.contentType).toBe('application/json');
      expect(p.properties.headers).toEqual({ 'x-attempt': 0, 'x-request-id': `req-${i + 1}` });
      expect(p.fields.deliveryTag).toBe(1);
    });
  });

  it('keeps the attempt count of the delivery (a batch never retries, but its header is honoured)', () => {
    const m = delivery(batchBody([order(1), order(2)]), true);
    m.properties.headers = { 'x-orders': 2, 'x-attempt': 2 };
    expect(expand(m).parts.map((p) => p.properties.headers?.['x-attempt'])).toEqual([2, 2]);
  });

  it('leaves a single-order message whole', () => {
    const m = delivery(Buffer.from(JSON.stringify(order(1))), false);
    expect(expand(m)).toEqual({ msg: m, parts: [m] });
  });

  it('cannot split a body that is not JSON, has no orders array or an empty one: one part, parked whole', () => {
    for (const raw of ['{not json', '{"orders":{}}', '[1,2]', 'null', '{"orders":[]}', '{}']) {
      expect(batchItems(Buffer.from(raw))).toBeNull();
      const m = delivery(Buffer.from(raw), true);
      const d = expand(m);
      expect(d.parts).toEqual([m]);
      expect(parseOrderPlaced(d.parts[0]?.content as Buffer)).toBeNull();
    }
  });

  it('makes a malformed item its own part that fails the schema, salvageable when it names the order', () => {
    const bad = { ...order(2), quantity: 0 };
    const d = expand(delivery(Buffer.from(JSON.stringify({ orders: [order(1), bad, 7, null] })), true));
    expect(d.parts.map((p) => parseOrderPlaced(p.content) !== null)).toEqual([true, false, false, false]);
    expect(salvage(d.parts[1]?.content as Buffer)).toEqual({
      activity: bad.activity,
      userId: bad.userId,
      orderId: bad.orderId,
    });
    expect(d.parts[1]?.properties.messageId).toBe(bad.orderId);
    // An item without an orderId keeps the delivery's messageId (the parking lot's log names it).
    expect(d.parts[2]?.properties.messageId).toBe('batch-x');
    expect(salvage(d.parts[3]?.content as Buffer)).toBeNull();
  });
});

describe('cutting batches at delivery boundaries', () => {
  const of = (...sizes: number[]): Delivery[] =>
    sizes.map((n, i) => {
      const m = delivery(Buffer.from(''), n > 1, i + 1);
      return { msg: m, parts: Array.from({ length: n }, () => m) };
    });

  it('takes whole deliveries up to the batch size', () => {
    expect(cut(of(64, 64, 64), 150)).toBe(2);
    expect(cut(of(1, 1, 1), 2)).toBe(2);
    expect(cut(of(100, 50, 1), 150)).toBe(2);
    expect(ordersIn(of(64, 64, 64))).toBe(192);
  });

  it('takes one delivery alone when it holds more orders than a batch, never a part of it', () => {
    expect(cut(of(200, 1), 150)).toBe(1);
    expect(cut(of(1, 200), 150)).toBe(1);
    expect(cut([], 150)).toBe(0);
  });

  it('hands each delivery the verdicts of its own orders', () => {
    const done: Verdict = { kind: 'done', outcome: 'persisted' };
    const retry: Verdict = { kind: 'retry', reason: 'x' };
    const park: Verdict = { kind: 'park', reason: 'y', order: null };
    expect(verdictsPerDelivery(of(1, 3, 2), [done, done, retry, done, park, done])).toEqual([
      [done],
      [done, retry, done],
      [park, done],
    ]);
  });
});
