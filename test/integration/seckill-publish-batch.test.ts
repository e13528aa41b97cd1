// The seckill's shared publish (issue 23) through its HTTP route, against real Redis, RabbitMQ and
// Postgres: purchases accepted together share one confirmed message and each is answered 202 after that
// message's confirm; a refused batch answers 503 to every purchase in it and gives each unit back once;
// SECKILL_PUBLISH_BATCH_MAX=1 publishes one message per order as before.
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { orderTopology, ORDERS_BATCH_CONTENT_TYPE } from '../../services/core/messaging/topology.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import {
  AMQP_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  randomPrefix,
  tokens,
  waitFor,
} from '../helpers/env.js';
import { applyLive, expectInvariants, FAST_TIERS, ordersOf, startOrders } from '../helpers/orders.js';
import { call, startSeckill, waitReady, type Answer, type RunningSeckill } from '../helpers/seckill.js';

let pg: TestSchema;
let redis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
});
afterAll(async () => {
  for (const p of prefixes) {
    await dropAmqpPrefix(p);
    await dropRedisPrefix(redis, p);
  }
  await redis.quit();
  await pg.drop();
});

/** A seckill of its own prefix; a 100 ms window so that purchases sent together share a message. */
async function seckillOf(env: Record<string, string> = {}): Promise<{ prefix: string; s: RunningSeckill }> {
  const prefix = randomPrefix('pbatch');
  prefixes.push(prefix);
  const s = await startSeckill(prefix, {
    STAMPEDE_RETRY_TIERS_MS: FAST_TIERS,
    DATABASE_SCHEMA: pg.schema,
    SECKILL_PUBLISH_BATCH_MS: '100',
    SECKILL_PUBLISH_TIMEOUT_MS: '10000',
    ...env,
  });
  await waitReady(s.url);
  return { prefix, s };
}

/** Every user's purchase at once (tokens signed first, so the requests leave together). */
async function buyTogether(s: RunningSeckill, activity: string, users: string[]): Promise<Answer[]> {
  const signed = await Promise.all(users.map((u) => tokens.sign({ userId: u, role: 'user' })));
  return Promise.all(signed.map((token) => call(s.url, `/seckill/${activity}`, { token, body: {} })));
}

/** The messages waiting in a queue, left there (the connection closes without acking them). */
async function peek(queue: string): Promise<amqp.GetMessage[]> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const out: amqp.GetMessage[] = [];
    for (let m = await ch.get(queue); m !== false; m = await ch.get(queue)) out.push(m);
    return out;
  } finally {
    await conn.close();
  }
}

const users = (tag: string, n: number) => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

it('answers 202 to purchases sent together after their shared message is confirmed; each is one row', async () => {
  const { prefix, s } = await seckillOf();
  try {
    const a = await applyLive(pg.db, redis, prefix, { stock: 12 });
    const answers = await buyTogether(s, a.name, users('together', 12));
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(202));
    const accepted = new Set(answers.map((r) => String(r.body.orderId)));
    const msgs = await peek(orderTopology(prefix).placedQueue);
    const count = (m: amqp.GetMessage) => Number(m.properties.headers?.['x-orders'] ?? 1);
    expect(msgs.reduce((n, m) => n + count(m), 0)).toBe(12);
    expect(msgs.some((m) => m.properties.contentType === ORDERS_BATCH_CONTENT_TYPE && count(m) > 1)).toBe(
      true,
    );
    const worker = await startOrders(prefix, pg.schema);
    try {
      await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 12, '12 rows');
      await expectInvariants(pg.db, redis, prefix, a, accepted);
    } finally {
      await worker.stop();
    }
  } finally {
    await s.stop();
  }
});

it('answers 503 to every purchase of a refused batch and gives each unit back exactly once', async () => {
  const { prefix, s } = await seckillOf();
  try {
    const conn = await amqp.connect(AMQP_URL);
    await (await conn.createChannel()).deleteQueue(orderTopology(prefix).placedQueue);
    await conn.close();
    const a = await applyLive(pg.db, redis, prefix, { stock: 10 });
    const answers = await buyTogether(s, a.name, users('refused', 8));
    expect(answers.map((r) => [r.status, r.body.code])).toEqual(Array(8).fill([503, 'UNAVAILABLE']));
    const k = activityKeys(prefix, a.name);
    // Stock back to what it was (not above: once per order), every buyer entry gone.
    expect(await redis.get(k.stock)).toBe('10');
    expect(await redis.hlen(k.buyers)).toBe(0);
  } finally {
    await s.stop();
  }
});

it('publishes one message per order, as before, with SECKILL_PUBLISH_BATCH_MAX=1', async () => {
  const { prefix, s } = await seckillOf({ SECKILL_PUBLISH_BATCH_MAX: '1' });
  try {
    const a = await applyLive(pg.db, redis, prefix, { stock: 5 });
    const answers = await buyTogether(s, a.name, users('single', 5));
    expect(answers.map((r) => r.status)).toEqual(Array(5).fill(202));
    const msgs = await peek(orderTopology(prefix).placedQueue);
    expect(msgs.map((m) => String(m.properties.messageId)).sort()).toEqual(
      answers.map((r) => String(r.body.orderId)).sort(),
    );
    for (const m of msgs) {
      const body = JSON.parse(m.content.toString()) as Record<string, unknown>;
      expect(Object.keys(body)).toEqual([
        'orderId',
        'activity',
        'userId',
        'quantity',
        'placedAt',
        'requestId',
      ]);
      expect(m.properties.contentType).toBe('application/json');
      // (the quorum queue adds its own x-delivery-count)
      expect(m.properties.headers).toMatchObject({ 'x-request-id': body.requestId, 'x-attempt': 0 });
      expect(m.properties.headers?.['x-orders']).toBeUndefined();
    }
  } finally {
    await s.stop();
  }
});
