import type { Express } from 'express';
import type { RedisClient } from '../core/redis/client.js';
import type { Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import { createSequelize } from '../core/db/connect.js';
import { createHttpApp, finish, Readiness } from '../core/http/app.js';
import type { Logger } from '../core/log.js';
import { createRegistry, orderMetrics } from '../core/metrics.js';
import { AmqpConnection } from '../core/messaging/amqp.js';
import { ConfirmPublisher } from '../core/messaging/publisher.js';
import { declareOrderTopology, orderTopology, type OrderTopology } from '../core/messaging/topology.js';
import { closeRedis, createRedis } from '../core/redis/client.js';
import type { OrdersConfig } from './config.js';
import { OrderConsumer } from './consumer.js';
import { every } from './loop.js';
import { Reconciler } from './reconciler.js';
import { closeExpired, returnOwedUnits } from './stock-return.js';

export interface Orders {
  app: Express;
  readiness: Readiness;
  registry: Registry;
  db: Sequelize;
  redis: RedisClient;
  consumer: OrderConsumer;
  start(): Promise<void>;
  closers: { name: string; close: () => Promise<unknown> }[];
}

/** Refuses to run without the dead-letter targets: a retry tier dead-letters into the work exchange. */
async function verifyTopology(ch: import('amqplib').ConfirmChannel, t: OrderTopology): Promise<void> {
  await declareOrderTopology(ch, t);
  await ch.checkExchange(t.exchange);
  await ch.checkExchange(t.retryExchange);
  for (const q of [...t.retryQueues, t.parkedQueue, t.placedQueue]) await ch.checkQueue(q);
}

/** Ready messages in the work and retry queues; null without a channel (the broker cannot say). */
export async function queueBacklog(amqp: AmqpConnection, t: OrderTopology): Promise<number | null> {
  const ch = amqp.channel;
  if (!ch) return null;
  const counts = await Promise.all([t.placedQueue, ...t.retryQueues].map((q) => ch.checkQueue(q)));
  return counts.reduce((s, q) => s + q.messageCount, 0);
}

export function buildOrders(config: OrdersConfig, log: Logger): Orders {
  const registry = createRegistry('orders');
  const metrics = orderMetrics(registry);
  const db = createSequelize({ url: config.databaseUrl, log, schema: config.databaseSchema });
  const redis = createRedis({ target: config.redis, log, name: 'orders', commandTimeoutMs: 3000 });
  const topology = orderTopology(config.prefix, config.retryTiersMs);
  const amqp = new AmqpConnection({ url: config.amqpUrl, log, setup: (ch) => verifyTopology(ch, topology) });
  const publisher = new ConfirmPublisher(amqp, topology.exchange, 5000);
  const consumer = new OrderConsumer({ ...config, db, redis, topology, metrics, log });
  amqp.onChange(
    (ch) => void consumer.attach(ch).catch((err: unknown) => log.error({ err }, 'consume failed')),
  );
  const readiness = new Readiness()
    .add('redis', () => redis.status === 'ready')
    .add('amqp', () => consumer.consuming);
  const http = { log, registry, readiness, trustProxyHops: config.trustProxyHops };
  const app = finish(createHttpApp(http), http);
  const loops: { stop(): Promise<void> }[] = [];
  const reconciler = new Reconciler({
    db,
    redis,
    prefix: config.prefix,
    publisher,
    metrics,
    log,
    graceMs: config.reconcileGraceMs,
    batch: config.reconcileBatch,
    intervalMs: config.reconcileIntervalMs,
    backlog: () => queueBacklog(amqp, topology),
  });
  return {
    app,
    readiness,
    registry,
    db,
    redis,
    consumer,
    async start() {
      await amqp.start();
      loops.push(
        every(config.sweepIntervalMs, 'payment-timeout', log, async () => {
          const closed = await closeExpired(db);
          if (closed) metrics.closed.inc({ reason: 'payment_timeout' }, closed);
          await returnOwedUnits(db, redis, config.prefix);
        }),
        every(config.reconcileIntervalMs, 'reconcile', log, () => reconciler.run()),
      );
    },
    closers: [
      { name: 'consumer', close: () => consumer.stop() },
      { name: 'loops', close: () => Promise.all(loops.map((l) => l.stop())) },
      { name: 'amqp', close: () => amqp.close() },
      { name: 'redis', close: () => closeRedis(redis) },
      { name: 'postgres', close: () => db.close() },
    ],
  };
}
