import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Principal, TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode } from '../core/errors.js';
import { readSmallJson } from '../core/http/body.js';
import { answerError, sendJson } from '../core/http/problem.js';
import type { Logger } from '../core/log.js';
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
  log: Logger;
}

/** One purchase request as the handler sees it: raw node objects plus what routing already knew. */
export interface HotRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The `:activity` segment, decoded, not yet validated. */
  name: string;
  id: string;
  ip: string;
  path: string;
}

const MAX_QUANTITY = 1000;
const BODY_LIMIT_BYTES = 1024;
const SOLD_OUT = new AppError(ErrorCode.SOLD_OUT);
const bodySchema = z.object({ quantity: z.number().int().min(1).max(MAX_QUANTITY).optional() }).strict();
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

const limited = (retryAfter: number, what: string): AppError =>
  new AppError(ErrorCode.RATE_LIMITED, `${what} rate limit reached`, { retryAfter });

export function checkActivityName(name: string): string {
  if (!ACTIVITY_NAME.test(name)) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
  return name;
}

async function quantityOf(req: IncomingMessage): Promise<number> {
  const parsed = bodySchema.safeParse((await readSmallJson(req, BODY_LIMIT_BYTES)) ?? {});
  if (!parsed.success) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'invalid purchase body', {
      extra: { errors: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return parsed.data.quantity ?? 1;
}

function idempotencyKey(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return '';
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'Idempotency-Key must be 1-128 visible ASCII characters');
  }
  return key;
}

/**
 * `POST /seckill/:activity` on node's own request and response objects (Express' per-request cost was the
 * ceiling of the whole path): limits, token, body, then the purchase; every outcome answered and recorded
 * here, errors through the same problem+json mapping as every other route. A sold-out sale answers a
 * shopper whose token was verified before without reading the body or touching Redis.
 */
export function purchaseHandler(d: PurchaseRouteDeps): (h: HotRequest) => Promise<void> {
  const admit = (ip: string, p: Principal | undefined): void => {
    const wait =
      d.limits.global.take('*') || d.limits.perIp.take(ip) || (p ? d.limits.perUser.take(p.userId) : 0);
    if (wait) throw limited(wait, 'request');
  };
  const run = async (h: HotRequest): Promise<unknown> => {
    const auth = h.req.headers.authorization;
    // Sold out answers from memory only without an Idempotency-Key: a keyed request may be the retry of an
    // accepted purchase, whose 202 only the script can repeat.
    const keyed = h.req.headers['idempotency-key'] !== undefined;
    const known = !keyed && d.cache.isSoldOut(h.name) ? d.tokens.cachedHeader(auth) : undefined;
    admit(h.ip, known);
    if (known) throw SOLD_OUT;
    const principal = await d.tokens.verifyHeader(auth);
    const wait = d.limits.perUser.take(principal.userId);
    if (wait) throw limited(wait, 'per-user');
    const activity = checkActivityName(h.name);
    const quantity = await quantityOf(h.req);
    const key = idempotencyKey(h.req);
    return d.purchases.purchase({
      activity,
      userId: principal.userId,
      quantity,
      idempotencyKey: key,
      requestId: h.id,
    });
  };
  return async (h) => {
    const started = process.hrtime.bigint();
    let outcome = 'accepted';
    try {
      sendJson(h.res, 202, await run(h));
    } catch (err) {
      outcome = answerError(d.log, h.res, err, { reqId: h.id, path: h.path }).code.toLowerCase();
    }
    // Only known activities become label values: a scan of random names cannot add series.
    const activity = d.cache.known(h.name) ? h.name : 'unknown';
    d.recorder.record(activity, outcome, Number(process.hrtime.bigint() - started) / 1e9);
  };
}
