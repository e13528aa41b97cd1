import type { Express, NextFunction, Request, Response } from 'express';
import { AppError, ErrorCode } from '../core/errors.js';
import type { ClusterLimiter } from '../core/rate-limit.js';

/**
 * What the public reads need of a limiter: the whole seconds to wait before the next request of `key`
 * (0: allowed). core/rate-limit.ts's in-process RateLimiter is one; the cluster-wide one answers
 * asynchronously, so the reads await it and do not care which it is.
 */
export interface KeyLimiter {
  take(key: string): number | Promise<number>;
}

/**
 * Cluster-wide (one limit of a ClusterLimiter, lua/rate-limit.lua): the budget holds across every worker
 * and pod. The pre-filter answers a key the cluster refused a moment ago without a Redis call.
 */
export const clusterKeyLimiter = (limiter: ClusterLimiter): KeyLimiter => ({
  async take(key: string): Promise<number> {
    const err = limiter.screen([key]) ?? (await limiter.take([key]));
    return err ? (err.retryAfter ?? 1) : 0;
  },
});

/** The reads that need no login: anyone may send them, with any activity name. */
const PUBLIC_READ = /^\/seckill\/[^/]+\/(stock|token)$/;

/**
 * Limits `GET /seckill/:activity/stock` and `GET /seckill/:activity/token` per client IP (Express' req.ip,
 * so `trustProxyHops` decides which address that is). Mounted before those routes; a purchase and the
 * authenticated routes have limits of their own.
 */
export function mountReadLimit(app: Express, limiter: KeyLimiter): void {
  app.use(async (req: Request, _res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !PUBLIC_READ.test(req.path)) return next();
    const wait = await limiter.take(req.ip ?? '');
    if (wait) {
      throw new AppError(ErrorCode.RATE_LIMITED, 'per-IP rate limit reached', { retryAfter: wait });
    }
    next();
  });
}
