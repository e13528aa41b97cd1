import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { Principal, TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode } from '../core/errors.js';
import { readSmallJson } from '../core/http/body.js';
import { sendJson } from '../core/http/problem.js';
import type { PurchaseRecorder } from '../core/metrics.js';
import { ACTIVITY_NAME } from '../core/redis/keys.js';
import type { ActivityCache } from './activity-cache.js';
import type { PurchaseService } from './purchase.js';
import type { RateLimiter } from '../core/rate-limit.js';

export interface Limits {
  global: RateLimiter;
  perIp: RateLimiter;
  perUser: RateLimiter;
}

export interface PurchaseRouteDeps {
  tokens: TokenService;
  purchases: PurchaseService;
  cache: ActivityCache;
  limits: Limits;
  recorder: PurchaseRecorder;
}

const MAX_QUANTITY = 1000;
const BODY_LIMIT_BYTES = 1024;
const SOLD_OUT = new AppError(ErrorCode.SOLD_OUT);
const bodySchema = z.object({ quantity: z.number().int().min(1).max(MAX_QUANTITY).optional() }).strict();
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

const limited = (retryAfter: number, what: string): AppError =>
  new AppError(ErrorCode.RATE_LIMITED, `${what} rate limit reached`, { retryAfter });

export function activityParam(req: Request): string {
  const name = String(req.params.activity ?? '');
  if (!ACTIVITY_NAME.test(name)) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
  return name;
}

async function quantityOf(req: Request): Promise<number> {
  const parsed = bodySchema.safeParse((await readSmallJson(req, BODY_LIMIT_BYTES)) ?? {});
  if (!parsed.success) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'invalid purchase body', {
      extra: { errors: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return parsed.data.quantity ?? 1;
}

function idempotencyKey(req: Request): string {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return '';
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'Idempotency-Key must be 1-128 visible ASCII characters');
  }
  return key;
}

/**
 * `POST /seckill/:activity` as one handler (each Express layer costs on a path measured in microseconds):
 * limits, token, body, then the purchase. A sold-out sale answers a shopper whose token was verified
 * before without reading the body or touching Redis.
 */
export function purchaseRoute(d: PurchaseRouteDeps): RequestHandler {
  const admit = (req: Request, p: Principal | undefined): void => {
    const wait =
      d.limits.global.take('*') ||
      d.limits.perIp.take(req.ip ?? '') ||
      (p ? d.limits.perUser.take(p.userId) : 0);
    if (wait) throw limited(wait, 'request');
  };
  const run = async (req: Request): Promise<unknown> => {
    const name = String(req.params.activity);
    const known = d.cache.isSoldOut(name) ? d.tokens.cachedHeader(req.headers.authorization) : undefined;
    admit(req, known);
    if (known) throw SOLD_OUT;
    const principal = await d.tokens.verifyHeader(req.headers.authorization);
    const wait = d.limits.perUser.take(principal.userId);
    if (wait) throw limited(wait, 'per-user');
    const activity = activityParam(req);
    const quantity = await quantityOf(req);
    const key = idempotencyKey(req);
    return d.purchases.purchase({
      activity,
      userId: principal.userId,
      quantity,
      idempotencyKey: key,
      requestId: req.id,
    });
  };
  return async (req, res) => {
    const started = process.hrtime.bigint();
    let outcome = 'accepted';
    try {
      sendJson(res, 202, await run(req));
    } catch (err) {
      outcome = (err instanceof AppError ? err.code : ErrorCode.INTERNAL).toLowerCase();
      throw err;
    } finally {
      // Only known activities become label values: a scan of random names cannot add series.
      const name = String(req.params.activity);
      const activity = d.cache.known(name) ? name : 'unknown';
      d.recorder.record(activity, outcome, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}
