import type { Express } from 'express';
import type { RedisClient } from '../core/redis/client.js';
import type { StoredActivity } from '../core/activity/preheat.js';
import type { TokenService } from '../core/auth/jwt.js';
import type { ActivityCache } from './activity-cache.js';
import { knownActivity } from './known-activity.js';
import { resultRoute, type OrderStatusSource } from './order-status.js';
import type { KeyLimiter } from './read-limit.js';
import type { HotRequest } from './purchase-route.js';

export interface SeckillRouteDeps {
  tokens: TokenService;
  cache: ActivityCache;
  redis: RedisClient;
  prefix: string;
  /** The purchase handler the front listener also calls (see front.ts). */
  purchase: (h: HotRequest) => Promise<void>;
  orderStatus?: OrderStatusSource;
  redisTimeoutMs: number;
  /** Per-user limit of `…/result` (SECKILL_RATE_PER_USER); default order-status.ts's RESULT_RATE_PER_USER. */
  resultRatePerUser?: number;
  /** A cluster-wide limiter for `…/result` instead of resultRatePerUser's in-process one. */
  resultLimiter?: KeyLimiter;
  now?: () => number;
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
  // URLs the front listener leaves to Express (percent-encoded names) still reach the same handler.
  app.post('/seckill/:activity', async (req, res) => {
    const name = String(req.params.activity ?? '');
    await d.purchase({ req, res, name, id: req.id, ip: req.ip ?? '', path: req.path });
  });

  app.get('/seckill/:activity/stock', async (req, res) => {
    const a = await knownActivity(d.cache, req);
    res.json({
      activity: a.info.name,
      total: a.info.total,
      remaining: a.remaining,
      status: saleStatus(a, now()),
    });
  });

  app.get('/seckill/:activity/result', resultRoute(d));
}
