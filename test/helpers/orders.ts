import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { QueryTypes, type Sequelize } from 'sequelize';
import { applyActivity } from '../../services/core/activity/apply.js';
import { activitySpecSchema, type ActivitySpecInput } from '../../services/core/activity/spec.js';
import { listen } from '../../services/core/http/server.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { loadOrdersConfig } from '../../services/orders/config.js';
import { buildOrders, type Orders } from '../../services/orders/service.js';
import { testSchema, type TestSchema } from './db.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, quietLog } from './env.js';
import { startSeckill, waitReady, type RunningSeckill } from './seckill.js';

export const FAST_TIERS = '100,200,300';

export interface RunningOrders {
  orders: Orders;
  server: Server;
  stop(): Promise<void>;
}

export async function startOrders(
  prefix: string,
  schema: string,
  env: Record<string, string> = {},
): Promise<RunningOrders> {
  const config = loadOrdersConfig({
    ...process.env,
    STAMPEDE_RETRY_TIERS_MS: FAST_TIERS,
    ORDERS_SWEEP_INTERVAL_MS: '100',
    ORDERS_RECONCILE_INTERVAL_MS: '3600000',
    ...env,
    STAMPEDE_PREFIX: prefix,
    DATABASE_SCHEMA: schema,
    PORT: '0',
  });
  const orders = buildOrders(config, quietLog);
  await orders.start();
  const server = await listen(orders.app, 0, '127.0.0.1');
  return {
    orders,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of orders.closers) await c.close().catch(() => undefined);
    },
  };
}

let n = 0;

/** Registers an activity in Postgres and Redis the way `stampede apply` does; live for an hour by default. */
export async function applyLive(
  db: Sequelize,
  redis: Redis,
  prefix: string,
  over: Partial<ActivitySpecInput> = {},
): Promise<{ name: string; total: number }> {
  const now = Date.now();
  const name = `sale-${process.pid}-${++n}-${now.toString(36)}`;
  const spec = activitySpecSchema.parse({
    product: { sku: `SKU-${name}`, name: 'Test product', price: '10.00' },
    stock: 10,
    window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
    paymentWindow: '15m',
    ...over,
  });
  await applyActivity(db, redis, prefix, name, spec);
  return { name, total: spec.stock };
}

export interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  quantity: number;
  stock_returned_at: string | null;
}

export const ordersOf = (db: Sequelize, activity: string): Promise<OrderRow[]> =>
  db.query<OrderRow>(
    `SELECT o.id, o.user_id, o.status, o.quantity, o.stock_returned_at FROM orders o
     JOIN seckill_activities a ON a.id = o.activity_id WHERE a.name = $1`,
    { bind: [activity], type: QueryTypes.SELECT },
  );

/**
 * The invariants of an activity once the pipeline is quiet: never more live orders than stock, one order
 * per user, Redis remaining + live orders = total, every accepted purchase is a row, no row without one,
 * and Postgres `sold` equals the live orders.
 */
export async function expectInvariants(
  db: Sequelize,
  redis: Redis,
  prefix: string,
  a: { name: string; total: number },
  accepted: Set<string>,
): Promise<void> {
  const rows = await ordersOf(db, a.name);
  const live = rows.filter((r) => r.status === 'pending_payment' || r.status === 'paid');
  const liveUnits = live.reduce((s, r) => s + r.quantity, 0);
  const remaining = Number(await redis.get(activityKeys(prefix, a.name).stock));
  const [act] = await db.query<{ sold: number }>('SELECT sold FROM seckill_activities WHERE name = $1', {
    bind: [a.name],
    type: QueryTypes.SELECT,
  });
  expect(liveUnits).toBeLessThanOrEqual(a.total);
  expect(new Set(rows.map((r) => r.user_id)).size).toBe(rows.length);
  expect(remaining + liveUnits).toBe(a.total);
  expect(act?.sold).toBe(liveUnits);
  expect(rows.map((r) => r.id).sort()).toEqual([...accepted].sort());
  for (const r of rows)
    if (r.status === 'closed' || r.status === 'failed') expect(r.stock_returned_at).not.toBeNull();
}

export interface Pipeline {
  pg: TestSchema;
  redis: Redis;
  seckill: RunningSeckill;
  worker: RunningOrders;
  /** Stops both processes and removes the suite's queues, keys and schema. */
  stop(): Promise<void>;
}

/** A seckill and an orders worker on one fresh schema, under `prefix`: the order pipeline suites' set-up. */
export async function startPipeline(
  prefix: string,
  seckillEnv: Record<string, string> = {},
): Promise<Pipeline> {
  const pg = await testSchema();
  const redis = newRedis();
  const worker = await startOrders(prefix, pg.schema);
  const seckill = await startSeckill(prefix, {
    STAMPEDE_RETRY_TIERS_MS: FAST_TIERS,
    DATABASE_SCHEMA: pg.schema,
    ...seckillEnv,
  });
  await waitReady(seckill.url);
  return {
    pg,
    redis,
    seckill,
    worker,
    async stop() {
      await seckill.stop();
      await worker.stop();
      await dropAmqpPrefix(prefix);
      await dropRedisPrefix(redis, prefix);
      await redis.quit();
      await pg.drop();
    },
  };
}
