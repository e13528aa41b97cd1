// Orders that share one message (issue 23), against real RabbitMQ, Redis and Postgres: the seckill's
// OrderBatcher puts the orders of one event-loop turn into one confirmed message, and the worker takes it
// apart: exactly one row per order, an order that fails alone is retried alone, a malformed item is parked
// alone, a redelivered batch writes nothing twice, and the payment-timeout close returns batched units.
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import { preheat } from '../../services/core/activity/preheat.js';
import { AmqpConnection } from '../../services/core/messaging/amqp.js';
import { OrderBatcher } from '../../services/core/messaging/order-batcher.js';
import { ConfirmPublisher } from '../../services/core/messaging/publisher.js';
import {
  declareOrderTopology,
  orderTopology,
  ORDERS_BATCH_CONTENT_TYPE,
  type OrderPlaced,
} from '../../services/core/messaging/topology.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { ActivityIds, persistBatch } from '../../services/orders/persist.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import {
  AMQP_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  quietLog,
  randomPrefix,
  waitFor,
} from '../helpers/env.js';
import { applyLive, expectInvariants, FAST_TIERS, ordersOf, startOrders } from '../helpers/orders.js';

let pg: TestSchema;
let redis: Redis;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await redis.quit();
  await pg.drop();
});

/** A prefix of its own with the seckill's publishing side (connection, confirm publisher, batcher). */
async function publishing(tiers = FAST_TIERS, maxOrders = 64) {
  const prefix = randomPrefix('obatch');
  const topology = orderTopology(prefix, tiers.split(',').map(Number));
  const conn = new AmqpConnection({
    url: AMQP_URL,
    log: quietLog,
    setup: (ch) => declareOrderTopology(ch, topology),
  });
  await conn.start();
  cleanups.push(
    () => dropRedisPrefix(redis, prefix),
    () => dropAmqpPrefix(prefix),
    () => conn.close(),
  );
  const publisher = new ConfirmPublisher(conn, topology.exchange, 10_000);
  return { prefix, topology, publisher, batcher: new OrderBatcher(publisher, { maxOrders, windowMs: 0 }) };
}

/** Accepted purchases as the script makes them (stock taken, buyer entry written), not yet published. */
async function accept(prefix: string, activity: string, users: string[]): Promise<OrderPlaced[]> {
  const scripts = new Scripts(redis);
  return Promise.all(
    users.map(async (userId) => {
      const orderId = uuidv7();
      const r = await scripts.purchase(activityKeys(prefix, activity), userId, orderId, 1);
      expect(r.orderId).toBe(orderId);
      return {
        orderId,
        activity,
        userId,
        quantity: 1,
        placedAt: new Date().toISOString(),
        requestId: `r-${userId}`,
      };
    }),
  );
}

/** An activity Redis knows but Postgres does not: its orders cannot be written (a retry each time). */
async function ghostActivity(prefix: string): Promise<string> {
  const now = Date.now();
  const name = `ghost-${now}-${Math.random().toString(36).slice(2, 6)}`;
  const info = {
    total: 2,
    startMs: now - 1000,
    endMs: now + 60_000,
    maxPerUser: 1,
    price: '1.00',
    paused: false,
  };
  await preheat(redis, prefix, { name, ...info });
  return name;
}

/** Takes every message of a queue off it (the test's own prefix: nobody else consumes it). */
async function drain(queue: string): Promise<amqp.GetMessage[]> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const out: amqp.GetMessage[] = [];
    for (let m = await ch.get(queue, { noAck: true }); m !== false; m = await ch.get(queue, { noAck: true }))
      out.push(m);
    return out;
  } finally {
    await conn.close();
  }
}

async function publishRaw(prefix: string, body: string, contentType: string): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  const ch = await conn.createConfirmChannel();
  ch.publish(orderTopology(prefix).exchange, 'order.placed', Buffer.from(body), {
    persistent: true,
    contentType,
    messageId: `batch-${uuidv7()}`,
    headers: { 'x-orders': 2, 'x-attempt': 0 },
  });
  await ch.waitForConfirms();
  await conn.close();
}

const idsOf = (orders: OrderPlaced[]) => new Set(orders.map((o) => o.orderId));
const users = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

it('puts the orders of one turn into one confirmed message, cut at the cap; a lone order goes alone as before', async () => {
  const p = await publishing(FAST_TIERS, 4);
  const a = await applyLive(pg.db, redis, p.prefix, { stock: 20 });
  const orders = await accept(p.prefix, a.name, users('shape', 10));
  await Promise.all(orders.map((o) => p.batcher.place(o)));
  const [lone] = await accept(p.prefix, a.name, ['lone']);
  await p.batcher.place(lone as OrderPlaced);
  const msgs = await drain(p.topology.placedQueue);
  expect(msgs.map((m) => m.properties.headers?.['x-orders'] ?? 1)).toEqual([4, 4, 2, 1]);
  for (const m of msgs.slice(0, 3)) {
    expect(m.properties).toMatchObject({ contentType: ORDERS_BATCH_CONTENT_TYPE, deliveryMode: 2 });
    expect(String(m.properties.messageId)).toMatch(/^batch-[0-9a-f-]{36}$/);
  }
  const bodies = msgs
    .slice(0, 3)
    .flatMap((m) => (JSON.parse(m.content.toString()) as { orders: OrderPlaced[] }).orders);
  expect(bodies).toEqual(orders);
  // The single message of before issue 23, byte for byte.
  const single = msgs[3] as amqp.GetMessage;
  expect(single.content.toString()).toBe(JSON.stringify(lone));
  expect(single.properties).toMatchObject({
    contentType: 'application/json',
    messageId: lone?.orderId,
    headers: { 'x-request-id': lone?.requestId, 'x-attempt': 0 },
  });
});

it('rejects every order of a refused batch message (unroutable)', async () => {
  const p = await publishing();
  const conn = await amqp.connect(AMQP_URL);
  await (await conn.createChannel()).deleteQueue(p.topology.placedQueue);
  await conn.close();
  const a = await applyLive(pg.db, redis, p.prefix, { stock: 5 });
  const orders = await accept(p.prefix, a.name, users('refused', 5));
  const settled = await Promise.allSettled(orders.map((o) => p.batcher.place(o)));
  expect(settled.map((s) => s.status)).toEqual(Array(5).fill('rejected'));
  expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/unroutable/);
});

it('writes exactly one row per order of a batch of many', async () => {
  const p = await publishing();
  const worker = await startOrders(p.prefix, pg.schema);
  try {
    const a = await applyLive(pg.db, redis, p.prefix, { stock: 150 });
    const orders = await accept(p.prefix, a.name, users('many', 150));
    await Promise.all(orders.map((o) => p.batcher.place(o)));
    await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 150, '150 rows');
    await waitFor(async () => (await drain(p.topology.placedQueue)).length === 0, 'the queue drained');
    await expectInvariants(pg.db, redis, p.prefix, a, idsOf(orders));
  } finally {
    await worker.stop();
  }
});

it('retries an order that fails alone as its own message; the other orders of its batch are rows', async () => {
  // Long tiers: the failed order waits in tier 1, where the test reads it.
  const tiers = '60000,60000,60000';
  const p = await publishing(tiers);
  const worker = await startOrders(p.prefix, pg.schema, { STAMPEDE_RETRY_TIERS_MS: tiers });
  try {
    const good = await applyLive(pg.db, redis, p.prefix, { stock: 6 });
    const ghost = await ghostActivity(p.prefix);
    const mixed = await accept(p.prefix, good.name, users('mixed', 6));
    const [lost] = await accept(p.prefix, ghost, ['ghost-user']);
    const batch = [...mixed.slice(0, 3), lost as OrderPlaced, ...mixed.slice(3)];
    await Promise.all(batch.map((o) => p.batcher.place(o)));
    await waitFor(async () => (await ordersOf(pg.db, good.name)).length === 6, 'the 6 good orders as rows');
    const [retried, ...more] = await waitFor(async () => {
      const got = await drain(p.topology.retryQueues[0] as string);
      return got.length ? got : null;
    }, 'the failed order in retry tier 1');
    expect(more).toEqual([]);
    expect(retried?.content.toString()).toBe(JSON.stringify(lost));
    expect(retried?.properties).toMatchObject({ contentType: 'application/json', messageId: lost?.orderId });
    expect(retried?.properties.headers).toMatchObject({ 'x-attempt': 1, 'x-request-id': lost?.requestId });
    expect(retried?.properties.headers?.['x-orders']).toBeUndefined();
    await expectInvariants(pg.db, redis, p.prefix, good, idsOf(mixed));
  } finally {
    await worker.stop();
  }
});

it('hands the whole delivery back when a retry re-publish fails; its written orders are not written twice', async () => {
  const tiers = '60000,60000,60000';
  const p = await publishing(tiers);
  const worker = await startOrders(p.prefix, pg.schema, { STAMPEDE_RETRY_TIERS_MS: tiers });
  try {
    const good = await applyLive(pg.db, redis, p.prefix, { stock: 4 });
    const ghost = await ghostActivity(p.prefix);
    // Without its retry exchange the re-publish is refused: RabbitMQ closes the worker's channel, which
    // requeues the delivery; the worker reconnects (declaring the exchange again) and gets it back.
    const conn = await amqp.connect(AMQP_URL);
    await (await conn.createChannel()).deleteExchange(p.topology.retryExchange);
    await conn.close();
    const rows = await accept(p.prefix, good.name, users('handback', 4));
    const [lost] = await accept(p.prefix, ghost, ['ghost-user']);
    await Promise.all([...rows, lost as OrderPlaced].map((o) => p.batcher.place(o)));
    // The first re-publish could not reach tier 1: the copy there is the redelivered batch's.
    const retried = await waitFor(async () => {
      const got = await drain(p.topology.retryQueues[0] as string);
      return got.length ? got : null;
    }, 'the failed order in retry tier 1 after the redelivery');
    expect(retried.map((m) => m.properties.messageId)).toEqual([lost?.orderId]);
    await expectInvariants(pg.db, redis, p.prefix, good, idsOf(rows));
  } finally {
    await worker.stop();
  }
});

it('parks a malformed item alone (its unit salvaged) and a batch body that cannot be split whole', async () => {
  const p = await publishing();
  const worker = await startOrders(p.prefix, pg.schema);
  try {
    const a = await applyLive(pg.db, redis, p.prefix, { stock: 3 });
    const [ok, bad] = await accept(p.prefix, a.name, ['item-ok', 'item-bad']);
    const malformed = { ...(bad as OrderPlaced), quantity: 0 };
    await publishRaw(p.prefix, JSON.stringify({ orders: [ok, malformed] }), ORDERS_BATCH_CONTENT_TYPE);
    await publishRaw(p.prefix, '{not json', ORDERS_BATCH_CONTENT_TYPE);
    await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 1, 'the valid order as a row');
    const lot: amqp.GetMessage[] = [];
    await waitFor(async () => {
      lot.push(...(await drain(p.topology.parkedQueue)));
      return lot.length === 2;
    }, 'two messages parked');
    const item = lot.find((m) => m.properties.messageId === bad?.orderId);
    expect(item?.content.toString()).toBe(JSON.stringify(malformed));
    expect(item?.properties.contentType).toBe('application/json');
    const whole = lot.find((m) => m.content.toString() === '{not json');
    expect(whole?.properties.contentType).toBe(ORDERS_BATCH_CONTENT_TYPE);
    // The malformed item can never be a row: its unit comes back (salvaged from the item itself).
    const k = activityKeys(p.prefix, a.name);
    await waitFor(async () => (await redis.get(k.stock)) === '2', 'the malformed item’s unit back');
    expect(await redis.hget(k.released, bad?.orderId as string)).not.toBeNull();
    expect((await ordersOf(pg.db, a.name)).map((r) => r.id)).toEqual([ok?.orderId]);
  } finally {
    await worker.stop();
  }
});

it('makes no duplicate row when a batch comes again after a partial write', async () => {
  const p = await publishing();
  const a = await applyLive(pg.db, redis, p.prefix, { stock: 8 });
  const orders = await accept(p.prefix, a.name, users('again', 8));
  // A worker wrote the first half (claimed, inserted, committed) and died before its ack.
  const half = orders.slice(0, 4);
  const claimed = await new Scripts(redis).claim(activityKeys(p.prefix, a.name), half);
  expect(claimed).toEqual([true, true, true, true]);
  expect(await persistBatch(pg.db, new ActivityIds(pg.db), half)).toEqual(Array(4).fill('persisted'));
  // The broker redelivers the whole batch, and a second copy arrives beside it.
  await Promise.all([...orders, ...orders].map((o) => p.batcher.place(o)));
  const worker = await startOrders(p.prefix, pg.schema);
  try {
    await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 8, '8 rows');
    await waitFor(async () => (await drain(p.topology.placedQueue)).length === 0, 'the queue drained');
    await expectInvariants(pg.db, redis, p.prefix, a, idsOf(orders));
  } finally {
    await worker.stop();
  }
});

it('closes unpaid batched orders on time and gives each unit back once', async () => {
  const p = await publishing();
  const worker = await startOrders(p.prefix, pg.schema);
  try {
    const a = await applyLive(pg.db, redis, p.prefix, { stock: 10, paymentWindow: '1s' });
    const orders = await accept(p.prefix, a.name, users('late', 10));
    await Promise.all(orders.map((o) => p.batcher.place(o)));
    await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 10, '10 rows');
    await waitFor(
      async () => (await ordersOf(pg.db, a.name)).every((r) => r.status === 'closed' && r.stock_returned_at),
      'orders closed and returned',
    );
    expect(await redis.get(activityKeys(p.prefix, a.name).stock)).toBe('10');
    await expectInvariants(pg.db, redis, p.prefix, a, idsOf(orders));
  } finally {
    await worker.stop();
  }
});
