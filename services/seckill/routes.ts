import type { Express } from 'express';
import type { Redis } from 'ioredis';
import type { StoredActivity } from '../core/activity/preheat.js';
import type { TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode, unavailable } from '../core/errors.js';
import { withTimeout } from '../core/timeout.js';
import { activityKeys } from '../core/redis/keys.js';
import type { ActivityCache } from './activity-cache.js';
import type { Request } from 'express';
import { checkActivityName, type HotRequest } from './purchase-route.js';

export type OrderStatus = 'queued' | 'pending_payment' | 'paid' | 'closed' | 'failed';

/** Where a purchase's later life is looked up (Postgres once the worker has written the order). */
export type OrderStatusSource = (
  activity: string,
  userId: string,
) => Promise<{ orderId: string; status: OrderStatus } | null>;

export interface SeckillRouteDeps {
  tokens: TokenService;
  cache: ActivityCache;
  redis: Redis;
  prefix: string;
  /** The purchase handler the front listener also calls (see front.ts). */
  purchase: (h: HotRequest) => Promise<void>;
  orderStatus?: OrderStatusSource;
  redisTimeoutMs: number;
  now?: () => number;
}

export function saleStatus(a: StoredActivity, now: number): string {
  if (a.remaining === null) return 'not_preheated';
  if (a.info.paused) return 'paused';
  if (now < a.info.startMs) return 'upcoming';
  if (now >= a.info.endMs) return 'ended';
  return a.remaining <= 0 ? 'sold_out' : 'live';
}

export const activityParam = (req: Request): string => checkActivityName(String(req.params.activity ?? ''));

export function mountSeckillRoutes(app: Express, d: SeckillRouteDeps): void {
  const now = d.now ?? Date.now;
  // URLs the front listener leaves to Express (percent-encoded names) still reach the same handler.
  app.post('/seckill/:activity', async (req, res) => {
    const name = String(req.params.activity ?? '');
    await d.purchase({ req, res, name, id: req.id, ip: req.ip ?? '', path: req.path });
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
    const entry = await withTimeout(
      d.redis.hget(activityKeys(d.prefix, name).buyers, principal.userId),
      d.redisTimeoutMs,
      'result read',
    ).catch((err: unknown) => {
      throw unavailable('stock store unavailable', err);
    });
    if (!entry) throw new AppError(ErrorCode.NOT_PURCHASED);
    res.json({ orderId: entry.slice(0, entry.indexOf(':')), status: 'queued' satisfies OrderStatus });
  });
}
