import type { RequestListener } from 'node:http';
import type { Express } from 'express';
import type { RedisClient } from '../core/redis/client.js';
import type { Registry } from 'prom-client';
import { TokenService } from '../core/auth/jwt.js';
import { createHttpApp, finish, Readiness } from '../core/http/app.js';
import type { Logger } from '../core/log.js';
import { createRegistry, PurchaseRecorder, purchaseMetrics, purchaseTokenCounter } from '../core/metrics.js';
import { AmqpConnection } from '../core/messaging/amqp.js';
import { ConfirmPublisher } from '../core/messaging/publisher.js';
import { OrderBatcher } from '../core/messaging/order-batcher.js';
import { declareOrderTopology, orderTopology } from '../core/messaging/topology.js';
import { closeRedis, createRedis } from '../core/redis/client.js';
import { Scripts } from '../core/redis/scripts.js';
import { ActivityCache } from './activity-cache.js';
import type { SeckillConfig } from './config.js';
import { PurchaseService } from './purchase.js';
import { clusterLimiters, rateLimitMetrics } from '../core/rate-limit.js';
import { postgresOrderStatus } from './order-status.js';
import { mountSeckillRoutes } from './routes.js';
import { frontListener } from './front.js';
import { clusterMetricsOf } from '../core/http/cluster.js';
import { purchaseHandler } from './purchase-route.js';
import { tracedPurchase } from './tracing.js';
import { createSequelize } from '../core/db/connect.js';
import { PurchaseTokens } from './purchase-token.js';
import { Challenges } from './challenge.js';
import { mountTokenRoutes } from './token-route.js';
import { clusterKeyLimiter, mountReadLimit } from './read-limit.js';
import { buildRoom } from './room/build.js';
import { startDiagnostics } from './diagnostics.js';

export interface Seckill {
  /** The request listener to serve: the lean purchase path in front of `express`. */
  app: RequestListener;
  express: Express;
  readiness: Readiness;
  registry: Registry;
  redis: RedisClient;
  amqp: AmqpConnection;
  /** Connects the broker and the stock-event subscription; resolves even when a dependency is down. */
  start(): Promise<void>;
  closers: { name: string; close: () => Promise<unknown> }[];
}

/** Builds the seckill process' parts from its config; main.ts and the tests both start from here. */
export function buildSeckill(config: SeckillConfig, log: Logger): Seckill {
  const registry = createRegistry('seckill');
  // The bench's view of the tail (SECKILL_DIAGNOSTICS); nothing is created when off.
  const stopDiagnostics = config.diagnostics ? startDiagnostics(registry) : undefined;
  const metrics = purchaseMetrics(registry);
  const redis = createRedis({ target: config.redis, log, name: 'seckill', autoPipelining: true });
  const sub = createRedis({ target: config.redis, log, name: 'seckill-events' });
  const topology = orderTopology(config.prefix, config.retryTiersMs);
  const amqp = new AmqpConnection({
    url: config.amqpUrl,
    log,
    setup: (ch) => declareOrderTopology(ch, topology),
  });
  const publisher = new ConfirmPublisher(amqp, topology.exchange, config.publishTimeoutMs);
  const cache = new ActivityCache(redis, config.prefix, log, config.redisTimeoutMs);
  const scripts = new Scripts(redis);
  const purchases = new PurchaseService({
    redis,
    scripts,
    cache,
    publisher,
    // Orders of one turn share a confirmed message (issue 23); 1 keeps one message per order.
    batcher:
      config.publishBatchMax > 1
        ? new OrderBatcher(publisher, { maxOrders: config.publishBatchMax, windowMs: config.publishBatchMs })
        : undefined,
    metrics,
    log,
    prefix: config.prefix,
    redisTimeoutMs: config.redisTimeoutMs,
  });
  // A small pool, only for `…/result`: the purchase path never touches Postgres.
  const db = createSequelize({
    url: config.databaseUrl,
    log,
    schema: config.databaseSchema,
    poolMax: 2,
    statementTimeoutMs: 1000,
  });
  const orderStatus = postgresOrderStatus(db);
  const readiness = new Readiness()
    .add('redis', () => redis.status === 'ready')
    .add('amqp', () => publisher.ready);
  const metricsText = clusterMetricsOf(registry);
  const http = { log, registry, readiness, trustProxyHops: config.trustProxyHops, metrics: metricsText };
  // The key before a rotation verifies tokens that name its kid (JWT_SECRET_PREVIOUS, one token lifetime).
  // Every seckill route buys (or prepares to): an account that has not verified its email is refused here.
  const tokens = new TokenService(config.jwtSecret, config.jwtSecretPrevious, { requireVerifiedEmail: true });
  const purchaseTokens = new PurchaseTokens(
    config.jwtSecret,
    config.jwtSecretPrevious,
    config.purchaseTokenTtlSeconds * 1000,
  );
  const tokenCounter = purchaseTokenCounter(registry);
  // Cluster-wide (Redis, lua/rate-limit.lua): SECKILL_RATE_* hold across every worker and pod together.
  const limitMetrics = rateLimitMetrics(registry);
  const limiter = clusterLimiters({
    redis,
    scripts,
    prefix: config.prefix,
    timeoutMs: config.redisTimeoutMs,
    metrics: limitMetrics,
    log,
  });
  const purchase = tracedPurchase(
    purchaseHandler({
      tokens,
      purchases,
      cache,
      log,
      recorder: new PurchaseRecorder(metrics),
      purchaseTokens,
      tokenRefused: (activity, outcome) => tokenCounter.inc({ activity, outcome }),
      limits: limiter('seckill', [
        { name: 'global', count: config.rateGlobal, periodMs: 1000 },
        { name: 'per-ip', count: config.ratePerIp, periodMs: 1000 },
        { name: 'per-user', count: config.ratePerUser, periodMs: 1000 },
      ]),
    }),
  );
  const app = createHttpApp(http);
  // The reads anyone may send (no login) get the per-IP rate with a budget of their own.
  mountReadLimit(
    app,
    clusterKeyLimiter(limiter('read', [{ name: 'per-ip', count: config.ratePerIp, periodMs: 1000 }])),
  );
  const challenges = new Challenges(
    {
      jwtSecret: config.jwtSecret,
      jwtSecretPrevious: config.jwtSecretPrevious,
      ttlMs: config.challengeTtlSeconds * 1000,
    },
    redis,
    config.prefix,
  );
  const room = buildRoom({
    app,
    config,
    redis,
    scripts,
    registry,
    log,
    tokens,
    cache,
    purchaseTokens,
    challenges,
    limiter,
  });
  mountTokenRoutes(app, {
    tokens,
    cache,
    purchaseTokens,
    challenges,
    tokenCounter,
    limiter: limiter('token', [{ name: 'per-user', count: config.ratePerUser, periodMs: 1000 }]),
    challengeLeadMs: config.challengeLeadSeconds * 1000,
  });
  mountSeckillRoutes(app, {
    tokens,
    purchase,
    cache,
    redis,
    prefix: config.prefix,
    orderStatus,
    redisTimeoutMs: config.redisTimeoutMs,
    // Result polls are limited per user like purchases (SECKILL_RATE_PER_USER; 0 turns it off).
    resultRatePerUser: config.ratePerUser,
    resultLimiter: clusterKeyLimiter(
      limiter('result', [{ name: 'per-user', count: config.ratePerUser, periodMs: 1000 }]),
    ),
  });
  finish(app, http);
  return {
    app: frontListener({ express: app, readiness, trustProxyHops: config.trustProxyHops, purchase }),
    express: app,
    readiness,
    registry,
    redis,
    amqp,
    start: async () => {
      room.admitter.start();
      await Promise.all([
        amqp.start(),
        cache.subscribe(sub).catch((err: unknown) => log.warn({ err }, 'subscribe failed')),
      ]);
    },
    closers: [
      { name: 'admitter', close: async () => room.admitter.stop() },
      { name: 'amqp', close: () => amqp.close() },
      { name: 'redis-events', close: () => closeRedis(sub) },
      { name: 'redis', close: () => closeRedis(redis) },
      { name: 'postgres', close: () => db.close() },
      ...(stopDiagnostics ? [{ name: 'diagnostics', close: async () => stopDiagnostics() }] : []),
    ],
  };
}
