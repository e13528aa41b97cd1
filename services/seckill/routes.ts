import express, { type Express, type Request, type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { StoredActivity } from '../core/activity/preheat.js';
import type { Principal, TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode, unavailable } from '../core/errors.js';
import type { PurchaseMetrics } from '../core/metrics.js';
import { withTimeout } from '../core/timeout.js';
import { ACTIVITY_NAME, activityKeys } from '../core/redis/keys.js';
import type { ActivityCache } from './activity-cache.js';
import type { PurchaseService } from './purchase.js';
import type { RateLimiter } from './rate-limit.js';

export type OrderStatus = 'queued' | 'pending_payment' | 'paid' | 'closed' | 'failed';

/** Where a purchase's later life is looked up (Postgres once the worker has written the order). */
export type OrderStatusSource = (activity: string, userId: string) => Promise<{ orderId: string; status: OrderStatus } | null>;

export interface SeckillRouteDeps {
  tokens: TokenService;
  purchases: PurchaseService;
  cache: ActivityCache;
  redis: Redis;
  prefix: string;
  metrics: PurchaseMetrics;
  limits: { global: RateLimiter; perIp: RateLimiter; perUser: RateLimiter };
  orderStatus?: OrderStatusSource;
  now?: () => number;
}

const MAX_QUANTITY = 1000;
const bodySchema = z.object({ quantity: z.number().int().min(1).max(MAX_QUANTITY).optional() }).strict();
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

function parseBody(req: Request): number {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is('application/json')) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'the body must be application/json');
  }
  const parsed = bodySchema.safeParse(req.body ?? {});
  if (!parsed.success) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'invalid purchase body', {
      extra: { errors: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return parsed.data.quantity ?? 1;
}

function activityParam(req: Request): string {
  const name = String(req.params.activity ?? '');
  if (!ACTIVITY_NAME.test(name)) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
  return name;
}

function idempotencyKey(req: Request): string {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return '';
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'Idempotency-Key must be 1-128 visible ASCII characters');
  }
  return key;
}

function limited(retryAfter: number, what: string): AppError {
  return new AppError(ErrorCode.RATE_LIMITED, `${what} rate limit reached`, { retryAfter });
}

export function saleStatus(a: StoredActivity, now: number): string {
  if (a.remaining === null) return 'not_preheated';
  if (a.info.paused) return 'paused';
  if (now < a.info.startMs) return 'upcoming';
  if (now >= a.info.endMs) return 'ended';
  return a.remaining <= 0 ? 'sold_out' : 'live';
}

export function mountSeckillRoutes(app: Express, d: SeckillRouteDeps): void {
  const now = d.now ?? Date.now;
  const json = express.json({ limit: '1kb', strict: true });

  const admit: RequestHandler = (req, _res, next) => {
    const g = d.limits.global.take('*');
    if (g) return next(limited(g, 'global'));
    const ip = d.limits.perIp.take(req.ip ?? '');
    return next(ip ? limited(ip, 'per-IP') : undefined);
  };
  const auth = async (req: Request): Promise<Principal> => {
    const p = await d.tokens.verifyHeader(req.headers.authorization);
    const u = d.limits.perUser.take(p.userId);
    if (u) throw limited(u, 'per-user');
    return p;
  };

  app.post('/seckill/:activity', admit, json, async (req, res) => {
    const started = process.hrtime.bigint();
    let activity = 'unknown';
    let outcome = 'accepted';
    try {
      const principal = await auth(req);
      const name = activityParam(req);
      const quantity = parseBody(req);
      const key = idempotencyKey(req);
      const accepted = await d.purchases.purchase({
        activity: name,
        userId: principal.userId,
        quantity,
        idempotencyKey: key,
        requestId: req.id,
      });
      activity = name;
      res.status(202).json(accepted);
    } catch (err) {
      const code = err instanceof AppError ? err.code : ErrorCode.INTERNAL;
      outcome = code.toLowerCase();
      if (d.cache.known(String(req.params.activity))) {
        activity = String(req.params.activity);
      }
      throw err;
    } finally {
      d.metrics.requests.inc({ activity, outcome });
      d.metrics.duration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  });

  app.get('/seckill/:activity/stock', async (req, res) => {
    const name = activityParam(req);
    const a = await d.cache.stock(name).catch((err: unknown) => {
      throw err instanceof AppError ? err : unavailable('stock store unavailable', err);
    });
    if (!a) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
    res.json({ activity: name, total: a.info.total, remaining: a.remaining, status: saleStatus(a, now()) });
  });

  app.get('/seckill/:activity/result', async (req, res) => {
    const principal = await d.tokens.verifyHeader(req.headers.authorization);
    const name = activityParam(req);
    const found = d.orderStatus ? await d.orderStatus(name, principal.userId) : null;
    if (found) {
      res.json(found);
      return;
    }
    if (d.redis.status !== 'ready') throw unavailable('stock store unavailable');
    const entry = await withTimeout(d.redis.hget(activityKeys(d.prefix, name).buyers, principal.userId), 1000, 'result read')
      .catch((err: unknown) => {
        throw unavailable('stock store unavailable', err);
      });
    if (!entry) throw new AppError(ErrorCode.NOT_PURCHASED);
    res.json({ orderId: entry.slice(0, entry.indexOf(':')), status: 'queued' satisfies OrderStatus });
  });
}
