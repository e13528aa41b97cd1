// Redis loses an activity's state mid-sale (failover to an empty replica, a flush): re-applying rebuilds it
// from Postgres instead of selling the whole stock again. Real seckill, worker, Redis, RabbitMQ, Postgres.
import type { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { applyActivity } from '../../services/core/activity/apply.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { PreheatCode } from '../../services/core/redis/scripts.js';
import { type TestSchema } from '../helpers/db.js';
import { randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { expectInvariants, ordersOf, startPipeline, type Pipeline } from '../helpers/orders.js';
import { call, type Answer, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('rebuild');
let pg: TestSchema;
let redis: Redis;
let seckill: RunningSeckill;

let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline(prefix);
  ({ pg, redis, seckill } = pipeline);
});
afterAll(() => pipeline.stop());

const buy = async (activity: string, user: string): Promise<Answer> =>
  call(seckill.url, `/seckill/${activity}`, {
    token: await tokens.sign({ userId: user, role: 'user' }),
    body: {},
  });

it('rebuilds a lost activity from Postgres: earlier buyers stay buyers, only the free units sell', async () => {
  const name = `rebuild-${Date.now()}`;
  const spec = activitySpecSchema.parse({
    product: { sku: `SKU-${name}`, name: 'Phone', price: '10.00' },
    stock: 60,
    window: {
      start: new Date(Date.now() - 60_000).toISOString(),
      end: new Date(Date.now() + 3_600_000).toISOString(),
    },
    paymentWindow: '15m',
  });
  await applyActivity(pg.db, redis, prefix, name, spec);
  const first = Array.from({ length: 50 }, (_, i) => `early-${i}`);
  const orderOf = new Map<string, string>();
  for (const r of await Promise.all(first.map(async (u) => [u, await buy(name, u)] as const))) {
    expect(r[1].status).toBe(202);
    orderOf.set(r[0], String(r[1].body.orderId));
  }
  await waitFor(async () => (await ordersOf(pg.db, name)).length === 50, '50 orders');
  // Five orders time out: their units go back (to Redis, through the stock outbox).
  const closing = first.slice(0, 5).map((u) => orderOf.get(u));
  await pg.db.query(
    `UPDATE orders SET payment_deadline = now() - interval '1 second' WHERE id = ANY($1::uuid[])`,
    {
      bind: [closing],
    },
  );
  await waitFor(async () => {
    const [r] = await pg.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND stock_returned_at IS NOT NULL`,
      { bind: [closing], type: QueryTypes.SELECT },
    );
    return r?.n === 5;
  }, 'five closed orders returned their units');
  const k = activityKeys(prefix, name);
  expect(await redis.get(k.stock)).toBe('15');

  // Redis loses everything it knew about the sale.
  await redis.del(k.stock, k.info, k.buyers, k.idem, k.claimed, k.released);
  const re = await applyActivity(pg.db, redis, prefix, name, spec);
  expect(re.preheat).toEqual({ code: PreheatCode.REBUILT, remaining: 15, total: 60 });

  // Every earlier buyer, paid-up or timed out, is still a buyer: 409 with their own order.
  await waitFor(async () => (await buy(name, 'early-0')).status === 409, 'the rebuilt activity served');
  for (const u of first) {
    const again = await buy(name, u);
    expect({ status: again.status, code: again.body.code, orderId: again.body.orderId }).toEqual({
      status: 409,
      code: 'ALREADY_PURCHASED',
      orderId: orderOf.get(u),
    });
  }
  // The units that are free sell, and not one more.
  const late = await Promise.all(Array.from({ length: 20 }, (_, i) => buy(name, `late-${i}`)));
  const accepted = late.filter((r) => r.status === 202).map((r) => String(r.body.orderId));
  expect(accepted).toHaveLength(15);
  expect(late.filter((r) => r.status !== 202).map((r) => r.body.code)).toEqual(Array(5).fill('SOLD_OUT'));
  await waitFor(async () => (await ordersOf(pg.db, name)).length === 65, '65 orders');
  await expectInvariants(
    pg.db,
    redis,
    prefix,
    { name, total: 60 },
    new Set([...orderOf.values(), ...accepted]),
  );
}, 60_000);
