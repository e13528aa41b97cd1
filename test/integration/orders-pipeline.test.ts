// The order pipeline end to end against real Redis, RabbitMQ and Postgres: every 202 becomes exactly one
// row, redeliveries are no-ops, unpaid orders close on time and give their unit back exactly once.
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import { payOrder } from '../../services/core/orders/pay.js';
import { orderTopology } from '../../services/core/messaging/topology.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { AppError } from '../../services/core/errors.js';
import { closeExpired, returnOwedUnits } from '../../services/orders/stock-return.js';
import { type TestSchema } from '../helpers/db.js';
import { AMQP_URL, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import {
  applyLive,
  expectInvariants,
  ordersOf,
  startOrders,
  startPipeline,
  type Pipeline,
  type RunningOrders,
} from '../helpers/orders.js';
import { call, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('pipe');
let pg: TestSchema;
let redis: Redis;
let seckill: RunningSeckill;
let worker: RunningOrders;

let pipeline: Pipeline;

beforeAll(async () => {
  // Hundreds of purchases at once on a machine CI may share: the seckill's dependency timeouts (1 s, 2 s)
  // answer 503 under such load, which is right for a shopper but not what this suite is about.
  pipeline = await startPipeline(prefix, {
    SECKILL_REDIS_TIMEOUT_MS: '10000',
    SECKILL_PUBLISH_TIMEOUT_MS: '10000',
  });
  ({ pg, redis, seckill, worker } = pipeline);
});
afterAll(() => pipeline.stop());

async function buyAll(activity: string, users: string[], repeats = 1): Promise<Set<string>> {
  const accepted = new Set<string>();
  const attempts = users.flatMap((u) => Array.from({ length: repeats }, () => u));
  await Promise.all(
    attempts.map(async (u) => {
      const r = await call(seckill.url, `/seckill/${activity}`, {
        token: await tokens.sign({ userId: u, role: 'user' }),
        body: {},
      });
      if (r.status === 202) accepted.add(String(r.body.orderId));
      else expect(['SOLD_OUT', 'ALREADY_PURCHASED']).toContain(r.body.code);
    }),
  );
  return accepted;
}

const rowsSettled = (activity: string, n: number) =>
  waitFor(async () => (await ordersOf(pg.db, activity)).length === n, `${n} orders of ${activity}`);

it('turns many users, small stock and repeats into exactly `stock` orders, each accepted orderId a row', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 25 });
  const users = Array.from({ length: 120 }, (_, i) => `e2e-${i}`);
  const accepted = await buyAll(a.name, users, 3);
  expect(accepted.size).toBe(25);
  await rowsSettled(a.name, 25);
  await expectInvariants(pg.db, redis, prefix, a, accepted);
});

it('treats a redelivered or re-published message as a no-op', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 5 });
  const accepted = await buyAll(a.name, ['dup-1']);
  const [orderId] = [...accepted];
  await rowsSettled(a.name, 1);
  const conn = await amqp.connect(AMQP_URL);
  const ch = await conn.createConfirmChannel();
  const body = {
    orderId,
    activity: a.name,
    userId: 'dup-1',
    quantity: 1,
    placedAt: new Date().toISOString(),
    requestId: 'r',
  };
  for (let i = 0; i < 3; i++)
    ch.publish(orderTopology(prefix).exchange, 'order.placed', Buffer.from(JSON.stringify(body)), {
      persistent: true,
    });
  await ch.waitForConfirms();
  await waitFor(
    async () => (await ch.checkQueue(orderTopology(prefix).placedQueue)).messageCount === 0,
    'queue drained',
  );
  await conn.close();
  await expectInvariants(pg.db, redis, prefix, a, accepted);
});

it('closes unpaid orders on time and gives their unit back once, and the sale sells it again', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 2, paymentWindow: '1s' });
  const accepted = await buyAll(a.name, ['late-1', 'late-2']);
  expect(
    (
      await call(seckill.url, `/seckill/${a.name}`, {
        token: await tokens.sign({ userId: 'late-3', role: 'user' }),
        body: {},
      })
    ).body.code,
  ).toBe('SOLD_OUT');
  await rowsSettled(a.name, 2);
  await waitFor(
    async () => (await ordersOf(pg.db, a.name)).every((r) => r.status === 'closed' && r.stock_returned_at),
    'orders closed and returned',
  );
  expect(await redis.get(activityKeys(prefix, a.name).stock)).toBe('2');
  // The buyer sees the order's fate from Postgres on the seckill result route.
  const result = await call(seckill.url, `/seckill/${a.name}/result`, {
    token: await tokens.sign({ userId: 'late-1', role: 'user' }),
  });
  expect(result.body.status).toBe('closed');
  expect(accepted.has(String(result.body.orderId))).toBe(true);
  // The sold-out flag was cleared by the release: the same seckill process sells again at once.
  const again = await buyAll(a.name, ['late-3']);
  expect(again.size).toBe(1);
  await rowsSettled(a.name, 3);
  await expectInvariants(pg.db, redis, prefix, a, new Set([...accepted, ...again]));
});

it('does not let a long payment window delay a short one', async () => {
  const slow = await applyLive(pg.db, redis, prefix, { stock: 50, paymentWindow: '1h' });
  const fast = await applyLive(pg.db, redis, prefix, { stock: 3, paymentWindow: '1s' });
  const users = Array.from({ length: 40 }, (_, i) => `win-${i}`);
  await buyAll(slow.name, users.slice(0, 20));
  await buyAll(fast.name, users.slice(20, 23));
  await buyAll(slow.name, users.slice(23));
  await rowsSettled(slow.name, 37);
  await waitFor(
    async () => (await ordersOf(pg.db, fast.name)).filter((r) => r.status === 'closed').length === 3,
    'short-window orders closed',
  );
  expect((await ordersOf(pg.db, slow.name)).every((r) => r.status === 'pending_payment')).toBe(true);
});

it('pay and timeout race hundreds of times: exactly one wins each, units returned only for the closed', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 300, paymentWindow: '2s' });
  const users = Array.from({ length: 300 }, (_, i) => `race-${i}`);
  const accepted = await buyAll(a.name, users);
  await rowsSettled(a.name, 300);
  const rows = await pg.db.query<{ id: string; user_id: string; deadline: Date }>(
    `SELECT o.id, o.user_id, o.payment_deadline AS deadline FROM orders o JOIN seckill_activities a ON a.id = o.activity_id WHERE a.name = $1`,
    { bind: [a.name], type: QueryTypes.SELECT },
  );
  // Each order is paid within ±60 ms of its deadline while the sweeper (every 100 ms) closes expired ones.
  const outcomes = await Promise.all(
    rows.map(async (r) => {
      await new Promise((w) =>
        setTimeout(w, Math.max(0, r.deadline.getTime() - Date.now() + (Math.random() * 120 - 60))),
      );
      try {
        return await payOrder(pg.db, r.id, r.user_id);
      } catch (err) {
        expect((err as AppError).code).toBe('ORDER_CLOSED');
        return 'closed';
      }
    }),
  );
  const paid = outcomes.filter((o) => o === 'paid').length;
  expect(paid).toBeGreaterThan(0);
  expect(paid).toBeLessThan(300);
  await waitFor(
    async () =>
      (await ordersOf(pg.db, a.name)).every(
        (r) => r.status !== 'pending_payment' && (r.status === 'paid' || r.stock_returned_at),
      ),
    'every order decided',
  );
  const final = new Map((await ordersOf(pg.db, a.name)).map((r) => [r.id, r.status]));
  rows.forEach((r, i) => expect(final.get(r.id)).toBe(outcomes[i]));
  expect(Number(await redis.get(activityKeys(prefix, a.name).stock))).toBe(300 - paid);
  await expectInvariants(pg.db, redis, prefix, a, accepted);
});

it('refuses an oversell in Postgres: the order fails, its unit returns, the rest are kept', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 3 });
  // Redis believes in more stock than Postgres (as after a lost write): Postgres must hold the line.
  await redis.incrby(activityKeys(prefix, a.name).stock, 2);
  const users = Array.from({ length: 5 }, (_, i) => `over-${i}`);
  const accepted = await buyAll(a.name, users);
  expect(accepted.size).toBe(5);
  await rowsSettled(a.name, 5);
  await waitFor(
    async () =>
      (await ordersOf(pg.db, a.name)).filter((r) => r.status === 'failed' && r.stock_returned_at).length ===
      2,
    'two failed and returned',
  );
  const metrics = await (
    await fetch(`http://127.0.0.1:${(worker.server.address() as { port: number }).port}/metrics`)
  ).text();
  expect(metrics).toMatch(/stampede_orders_oversell_refused_total\S* [1-9]/);
  const rows = await ordersOf(pg.db, a.name);
  expect(rows.filter((r) => r.status === 'pending_payment')).toHaveLength(3);
});

it('re-publishes an accepted purchase whose message was lost (the buyers hash is the outbox)', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 4 });
  const lost = uuidv7();
  await new Scripts(redis).purchase(activityKeys(prefix, a.name), 'lost-1', lost, 1);
  const reconciler = await startOrders(prefix, pg.schema, {
    ORDERS_RECONCILE_INTERVAL_MS: '100',
    ORDERS_RECONCILE_GRACE_MS: '100',
  });
  try {
    await rowsSettled(a.name, 1);
    expect((await ordersOf(pg.db, a.name))[0]?.id).toBe(lost);
    await expectInvariants(pg.db, redis, prefix, a, new Set([lost]));
  } finally {
    await reconciler.stop();
  }
});

it('sweeps idempotently: closing and returning twice changes nothing more', async () => {
  expect(await closeExpired(pg.db)).toBeGreaterThanOrEqual(0);
  expect(await returnOwedUnits(pg.db, redis, prefix)).toBe(0);
});
