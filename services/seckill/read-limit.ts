import type { Express, NextFunction, Request, Response } from 'express';
import { AppError, ErrorCode } from '../core/errors.js';
import { RateLimiter } from '../core/rate-limit.js';

/**
 * What the public reads need of a limiter: the whole seconds to wait before the next request of `key`
 * (0: allowed). core/rate-limit.ts's in-process RateLimiter is one; a cluster-wide limiter may answer
 * asynchronously, so the reads await it and do not care which it is.
 */
export interface KeyLimiter {
  take(key: string): number | Promise<number>;
}

/** Per process for now (core/rate-limit.ts); swapping in a cluster-wide KeyLimiter changes no route. */
export const inProcessLimiter = (perSecond: number): KeyLimiter => new RateLimiter(perSecond);

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
