// Worker throughput: N orders committed from a pre-filled queue by the real worker, against the same N rows
// written by plain multi-row `INSERT … ON CONFLICT DO NOTHING` batches through pg, in the same run.
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import { applyActivity } from '../services/core/activity/apply.js';
import { activitySpecSchema } from '../services/core/activity/spec.js';
import { createSequelize } from '../services/core/db/connect.js';
import { migrate } from '../services/core/db/migrate.js';
import { createLogger } from '../services/core/log.js';
import {
  declareOrderTopology,
  orderTopology,
  type OrderPlaced,
} from '../services/core/messaging/topology.js';
import { activityKeys } from '../services/core/redis/keys.js';
import { Scripts } from '../services/core/redis/scripts.js';
import { loadOrdersConfig } from '../services/orders/config.js';
import { buildOrders } from '../services/orders/service.js';

export interface WorkerFigures {
  workerRowsPerS: number;
  pgRowsPerS: number;
}

const BATCH = 200;

function spec(stock: number) {
  const now = Date.now();
  return activitySpecSchema.parse({
    product: { sku: `BENCH-${now}`, name: 'bench', price: '1.00' },
    stock,
    window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
    paymentWindow: '1h',
  });
}

async function prefill(
  redis: Redis,
  amqpUrl: string,
  prefix: string,
  activity: string,
  n: number,
): Promise<void> {
  const scripts = new Scripts(redis);
  const k = activityKeys(prefix, activity);
  const orders: OrderPlaced[] = [];
  for (let i = 0; i < n; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({
      userId: `w${i + j}`,
      orderId: uuidv7(),
    }));
    await Promise.all(chunk.map((c) => scripts.purchase(k, c.userId, c.orderId, 1)));
    for (const c of chunk)
      orders.push({ ...c, activity, quantity: 1, placedAt: new Date().toISOString(), requestId: 'bench' });
  }
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createConfirmChannel();
  const t = orderTopology(prefix);
  await declareOrderTopology(ch, t);
  for (const o of orders)
    ch.publish(t.exchange, 'order.placed', Buffer.from(JSON.stringify(o)), {
      persistent: true,
      messageId: o.orderId,
    });
  await ch.waitForConfirms();
  await conn.close();
}

export async function benchWorker(redis: Redis, prefix: string, n: number): Promise<WorkerFigures> {
  const schema = `bench_${process.pid}`;
  const config = loadOrdersConfig({
    ...process.env,
    STAMPEDE_PREFIX: prefix,
    DATABASE_SCHEMA: schema,
    PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const log = createLogger('bench', config.logLevel);
  const admin = createSequelize({ url: config.databaseUrl, log });
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  const db = createSequelize({ url: config.databaseUrl, log, schema });
  try {
    await migrate(db, schema);
    await applyActivity(db, redis, prefix, 'bench-worker', spec(n));
    await prefill(redis, config.amqpUrl, prefix, 'bench-worker', n);

    const worker = buildOrders(config, log);
    const started = performance.now();
    await worker.start();
    for (;;) {
      const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders', {
        type: QueryTypes.SELECT,
      });
      if ((row?.n ?? 0) >= n) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const workerSeconds = (performance.now() - started) / 1000;
    for (const c of worker.closers) await c.close();

    const pgSeconds = await plainInserts(config.databaseUrl, schema, db, redis, prefix, n);
    return { workerRowsPerS: n / workerSeconds, pgRowsPerS: n / pgSeconds };
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
    await db.close();
  }
}

/** The baseline: the same rows, `BATCH` per statement, one statement after another on one connection. */
async function plainInserts(
  url: string,
  schema: string,
  db: ReturnType<typeof createSequelize>,
  redis: Redis,
  prefix: string,
  n: number,
): Promise<number> {
  await applyActivity(db, redis, prefix, 'bench-plain', spec(n));
  const [a] = await db.query<{ id: string }>(`SELECT id FROM seckill_activities WHERE name = 'bench-plain'`, {
    type: QueryTypes.SELECT,
  });
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  const started = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const size = Math.min(BATCH, n - i);
    const values: unknown[] = [];
    const rows = Array.from({ length: size }, (_, j) => {
      values.push(uuidv7(), `p${i + j}`, a?.id);
      const b = j * 3;
      return `($${b + 1}, $${b + 2}, $${b + 3}, 1, 1.00, 'pending_payment', now() + interval '1 hour', 'bench')`;
    });
    await client.query(
      `INSERT INTO orders (id, user_id, activity_id, quantity, amount, status, payment_deadline, request_id)
       VALUES ${rows.join(', ')} ON CONFLICT (activity_id, user_id) DO NOTHING`,
      values,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  return seconds;
}
