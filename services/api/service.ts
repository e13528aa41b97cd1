import express, { type Express } from 'express';
import helmet from 'helmet';
import type { RedisClient } from '../core/redis/client.js';
import type { Registry } from 'prom-client';
import type { Sequelize } from 'sequelize';
import { TokenService } from '../core/auth/jwt.js';
import { createSequelize } from '../core/db/connect.js';
import { createHttpApp, finish, Readiness } from '../core/http/app.js';
import type { Logger } from '../core/log.js';
import { createRegistry } from '../core/metrics.js';
import { closeRedis, createRedis } from '../core/redis/client.js';
import { clusterLimiters, rateLimitMetrics, type LimitSpec } from '../core/rate-limit.js';
import { Scripts } from '../core/redis/scripts.js';
import { AuthService } from './auth.js';
import { verifyRoutes } from './routes/verify.js';
import { createMailer, EmailVerification, VerificationLinks } from './verification.js';
import type { ApiConfig } from './config.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { catalogRoutes } from './routes/catalog.js';
import { orderRoutes, webhookRoutes } from './routes/orders.js';
import { seckillProxy, storefrontRoutes } from './storefront.js';

export interface Api {
  app: Express;
  readiness: Readiness;
  registry: Registry;
  db: Sequelize;
  redis: RedisClient;
  start(): Promise<void>;
  closers: { name: string; close: () => Promise<unknown> }[];
}

export function buildApi(config: ApiConfig, log: Logger): Api {
  const registry = createRegistry('api');
  const db = createSequelize({ url: config.databaseUrl, log, schema: config.databaseSchema });
  const redis = createRedis({ target: config.redis, log, name: 'api', commandTimeoutMs: 1000 });
  const tokens = new TokenService(config.jwtSecret, config.jwtSecretPrevious);
  // Cluster-wide (Redis, lua/rate-limit.lua): every api replica counts against the same limits.
  const limitMetrics = rateLimitMetrics(registry);
  const scripts = new Scripts(redis);
  const limiter = clusterLimiters({
    redis,
    scripts,
    prefix: config.prefix,
    timeoutMs: 1000,
    metrics: limitMetrics,
    log,
  });
  const perMinute = (name: string, count: number): LimitSpec => ({ name, count, periodMs: 60_000 });
  const families = limiter('refresh-family', [perMinute('per-family', config.refreshFamilyRatePerMinute)]);
  const mailer = createMailer(config.mail, log);
  const verification = new EmailVerification(
    db,
    new VerificationLinks(config.jwtSecret, config.mail.publicUrl),
    mailer,
    log,
  );
  const auth = new AuthService(
    db,
    tokens,
    config.refreshTokenTtlSeconds,
    (family) => families.take([family]),
    {
      reservedEmail: config.admin?.email ?? null,
      onRegistered: (id, email) => verification.send(id, email),
    },
  );
  let dbReady = false;
  const readiness = new Readiness()
    .add('postgres', () => dbReady)
    .add('redis', () => redis.status === 'ready');
  const http = { log, registry, readiness, trustProxyHops: config.trustProxyHops };
  const app = createHttpApp(http);
  const authLimiter = limiter('auth', [perMinute('per-ip', config.authRatePerMinute)]);
  app.use(helmet());
  if (config.seckillUrl) app.use('/seckill', seckillProxy(config.seckillUrl));
  // The webhook verifies its signature over the raw bytes: mounted before the JSON parser.
  app.use(
    '/api/payments',
    webhookRoutes(db, {
      secret: config.webhookSecret,
      toleranceSeconds: config.webhookToleranceSeconds,
      currency: config.paymentCurrency,
    }),
  );
  app.use(express.json({ limit: '16kb', strict: true }));
  app.use(
    '/api/auth',
    authRoutes(auth, authLimiter, limiter('refresh', [perMinute('per-ip', config.refreshRatePerMinute)])),
  );
  app.use('/api/auth', verifyRoutes(verification, tokens, authLimiter));
  app.use('/api', catalogRoutes(db, redis, config.prefix));
  app.use('/api/orders', orderRoutes(db, tokens, config.paymentSimulation));
  app.use('/api/admin', adminRoutes(db, redis, config.prefix, tokens));
  app.use(storefrontRoutes());
  finish(app, http);
  const probe = setInterval(() => {
    db.authenticate().then(
      () => (dbReady = true),
      () => (dbReady = false),
    );
  }, 2000);
  probe.unref();
  return {
    app,
    readiness,
    registry,
    db,
    redis,
    async start() {
      await db
        .authenticate()
        .then(() => (dbReady = true))
        .catch((err: unknown) => log.warn({ err }, 'postgres not reachable yet'));
      const admin = config.admin;
      if (admin && !(await auth.ensureAdmin(admin.email, admin.password))) {
        // Logged, never fatal: one shopper's registration must not keep every replica from starting.
        log.error(
          { adminEmail: admin.email },
          'ADMIN_EMAIL names an existing account that is not an admin; it is not promoted and no admin ' +
            'is ensured. Choose another ADMIN_EMAIL, or grant the role in the database on purpose.',
        );
      }
    },
    closers: [
      { name: 'probe', close: async () => clearInterval(probe) },
      { name: 'mailer', close: async () => mailer.close() },
      { name: 'redis', close: () => closeRedis(redis) },
      { name: 'postgres', close: () => db.close() },
    ],
  };
}
