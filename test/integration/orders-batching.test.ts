// Batching edge cases found by the worker benchmark: the same order twice in one batch, and messages
// left behind a full batch when no further delivery comes to trigger a flush.
import type { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import type { OrderPlaced } from '../../services/core/messaging/topology.js';
import { ActivityIds, persistBatch } from '../../services/orders/persist.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { applyLive, expectInvariants, FAST_TIERS, ordersOf, startOrders } from '../helpers/orders.js';
import { call, startSeckill, waitReady } from '../helpers/seckill.js';

const prefix = randomPrefix('batching');
let pg: TestSchema;
let redis: Redis;

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
});
afterAll(async () => {
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pg.drop();
});

it('writes an order that appears twice in one batch once, and counts it once in sold', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 2 });
  const order = (userId: string): OrderPlaced => ({
    orderId: uuidv7(),
    activity: a.name,
    userId,
    quantity: 1,
    placedAt: new Date().toISOString(),
    requestId: 'x',
  });
  const one = order('twice');
  const other = order('once');
  const outcomes = await persistBatch(pg.db, new ActivityIds(pg.db), [
    one,
    { ...one },
    other,
    { ...one, orderId: uuidv7() },
  ]);
  expect(outcomes).toEqual(['persisted', 'duplicate', 'persisted', 'duplicate']);
  const rows = await ordersOf(pg.db, a.name);
  expect(rows.map((r) => r.status).sort()).toEqual(['pending_payment', 'pending_payment']);
  const [act] = await pg.db.query<{ sold: number }>('SELECT sold FROM seckill_activities WHERE name = $1', {
    bind: [a.name],
    type: QueryTypes.SELECT,
  });
  expect(act?.sold).toBe(2);
});

const soldOf = async (name: string): Promise<number | undefined> => {
  const [act] = await pg.db.query<{ sold: number }>('SELECT sold FROM seckill_activities WHERE name = $1', {
    bind: [name],
    type: QueryTypes.SELECT,
  });
  return act?.sold;
};

const placed = (activity: string, userId: string, quantity = 1): OrderPlaced => ({
  orderId: uuidv7(),
  activity,
  userId,
  quantity,
  placedAt: new Date().toISOString(),
  requestId: 'x',
});

it('writes a batch of two activities in one go, each activity moved by its own units', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 10 });
  const b = await applyLive(pg.db, redis, prefix, { stock: 10 });
  const batch = [
    placed(a.name, 'u1', 2),
    placed(b.name, 'u1'),
    placed(a.name, 'u2'),
    placed(b.name, 'u2', 3),
  ];
  const outcomes = await persistBatch(pg.db, new ActivityIds(pg.db), batch);
  expect(outcomes).toEqual(['persisted', 'persisted', 'persisted', 'persisted']);
  expect(await soldOf(a.name)).toBe(3);
  expect(await soldOf(b.name)).toBe(4);
  expect((await ordersOf(pg.db, b.name)).map((r) => r.quantity).sort()).toEqual([1, 3]);
});

it('keeps what fits of a batch Postgres cannot hold whole, and fails the rest with nothing else changed', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 3 });
  const b = await applyLive(pg.db, redis, prefix, { stock: 5 });
  // Redis sold more of `a` than Postgres allows (as after a lost write): the one-statement write is
  // refused whole, and the slow path keeps the orders that fit, in batch order, in both activities.
  await persistBatch(pg.db, new ActivityIds(pg.db), [placed(a.name, 'before')]);
  const batch = [placed(a.name, 'o1'), placed(b.name, 'o1'), placed(a.name, 'o2'), placed(a.name, 'o3')];
  const outcomes = await persistBatch(pg.db, new ActivityIds(pg.db), batch);
  expect(outcomes).toEqual(['persisted', 'persisted', 'persisted', 'failed']);
  expect(await soldOf(a.name)).toBe(3);
  expect(await soldOf(b.name)).toBe(1);
  const rows = await ordersOf(pg.db, a.name);
  expect(rows.filter((r) => r.status === 'failed').map((r) => r.id)).toEqual([batch[3]?.orderId]);
  expect(rows.filter((r) => r.status === 'pending_payment')).toHaveLength(3);
});

it('flushes what arrived behind a full batch without waiting for another delivery', async () => {
  const worker = await startOrders(prefix, pg.schema, {
    ORDERS_BATCH_SIZE: '10',
    ORDERS_PREFETCH: '100',
    ORDERS_BATCH_WAIT_MS: '50',
  });
  const seckill = await startSeckill(prefix, { STAMPEDE_RETRY_TIERS_MS: FAST_TIERS });
  try {
    await waitReady(seckill.url);
    const a = await applyLive(pg.db, redis, prefix, { stock: 25 });
    // Stop consuming while the purchases queue up, so the worker receives them all at once.
    await worker.stop();
    const accepted = new Set<string>();
    for (let i = 0; i < 25; i++) {
      const r = await call(seckill.url, `/seckill/${a.name}`, {
        token: await tokens.sign({ userId: `tail-${i}`, role: 'user' }),
        body: {},
      });
      accepted.add(String(r.body.orderId));
    }
    const again = await startOrders(prefix, pg.schema, {
      ORDERS_BATCH_SIZE: '10',
      ORDERS_PREFETCH: '100',
      ORDERS_BATCH_WAIT_MS: '50',
    });
    try {
      await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 25, 'all 25 orders');
      await expectInvariants(pg.db, redis, prefix, a, accepted);
    } finally {
      await again.stop();
    }
  } finally {
    await seckill.stop();
  }
});
