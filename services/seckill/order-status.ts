import type { RequestHandler } from 'express';
import type { RedisClient } from '../core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode, unavailable } from '../core/errors.js';
import { RateLimiter } from '../core/rate-limit.js';
import { activityKeys, ACTIVITY_NAME } from '../core/redis/keys.js';
import { Scripts } from '../core/redis/scripts.js';
import { withTimeout } from '../core/timeout.js';
import type { KeyLimiter } from './read-limit.js';

export type OrderStatus = 'queued' | 'pending_payment' | 'paid' | 'closed' | 'failed';

/** Where a purchase's later life is looked up (Postgres once the worker has written the order). */
export type OrderStatusSource = (
  activity: string,
  userId: string,
) => Promise<{ orderId: string; status: OrderStatus } | null>;

/** What `GET /seckill/:activity/result` can answer: the order's status, or `parked` (issue 11). */
export type ResultStatus = OrderStatus | 'parked';

/** The default per-user limit of the result route: SECKILL_RATE_PER_USER's default. */
export const RESULT_RATE_PER_USER = 10;

/**
 * Reads the order's later life from Postgres once the worker has written it. Postgres is not on the
 * purchase path: when it cannot answer this is null, and the route falls back to what Redis knows.
 */
export function postgresOrderStatus(db: Sequelize): OrderStatusSource {
  return async (activity, userId) => {
    try {
      const [row] = await db.query<{ id: string; status: OrderStatus }>(
        `SELECT o.id, o.status FROM orders o JOIN seckill_activities a ON a.id = o.activity_id
         WHERE a.name = $1 AND o.user_id = $2`,
        { bind: [activity, userId], type: QueryTypes.SELECT },
      );
      return row ? { orderId: row.id, status: row.status } : null;
    } catch {
      return null;
    }
  };
}

export interface ResultDeps {
  tokens: TokenService;
  redis: RedisClient;
  prefix: string;
  orderStatus?: OrderStatusSource;
  redisTimeoutMs: number;
  /** Requests per second per user (SECKILL_RATE_PER_USER); 0 turns the limit off. */
  resultRatePerUser?: number;
  /** Overrides resultRatePerUser's in-process limiter (the service passes a cluster-wide one). */
  resultLimiter?: KeyLimiter;
}

/** Postgres answers cached per order: final ones for good, a pending one briefly (it may be paid). */
const CACHE_MAX = 100_000;
const PENDING_TTL_MS = 1000;
const FINAL = new Set<string>(['paid', 'closed', 'failed']);

/**
 * `GET /seckill/:activity/result`, rate-limited per user like the purchase. Redis answers first, in one
 * round trip (lua/result.lua): an order the worker has not taken is `queued` and a parked one `parked`,
 * without touching Postgres, so shoppers polling during a sale cost Postgres nothing. Once the worker has
 * claimed the order, or its unit went back, Postgres says what became of it (answers cached per order); a
 * released order without a row was given up (`failed`). With no buyer entry in Redis (or Redis down)
 * Postgres is asked directly.
 */
export function resultRoute(d: ResultDeps): RequestHandler {
  const limiter: KeyLimiter = d.resultLimiter ?? new RateLimiter(d.resultRatePerUser ?? RESULT_RATE_PER_USER);
  const scripts = new Scripts(d.redis);
  let cache = new Map<string, { status: OrderStatus; until: number }>();
  const fromPostgres = async (activity: string, userId: string, orderId: string | null) => {
    const hit = orderId ? cache.get(orderId) : undefined;
    if (hit && hit.until > Date.now()) return { orderId: orderId as string, status: hit.status };
    const found = d.orderStatus ? await d.orderStatus(activity, userId) : null;
    if (found && (!orderId || found.orderId === orderId)) {
      if (cache.size >= CACHE_MAX) cache = new Map();
      const until = FINAL.has(found.status) ? Infinity : Date.now() + PENDING_TTL_MS;
      cache.set(found.orderId, { status: found.status, until });
      return found;
    }
    return null;
  };
  const fromRedis = (activity: string, userId: string) =>
    d.redis.status !== 'ready'
      ? Promise.resolve(null)
      : withTimeout(
          scripts.result(activityKeys(d.prefix, activity), userId),
          d.redisTimeoutMs,
          'result read',
        ).catch(() => null);

  return async (req, res) => {
    const principal = await d.tokens.verifyHeader(req.headers.authorization);
    const wait = await limiter.take(principal.userId);
    if (wait) throw new AppError(ErrorCode.RATE_LIMITED, 'per-user rate limit reached', { retryAfter: wait });
    const name = String(req.params.activity ?? '');
    if (!ACTIVITY_NAME.test(name)) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
    const r = await fromRedis(name, principal.userId);
    const orderId = r?.entry ? r.entry.slice(0, r.entry.indexOf(':')) : null;
    let status: ResultStatus | null = null;
    if (orderId && r?.released === '' && r.claimed !== '1')
      status = r.claimed === 'parked' ? 'parked' : 'queued';
    if (status) return void res.json({ orderId, status });
    const found = await fromPostgres(name, principal.userId, orderId);
    if (found) return void res.json(found);
    if (orderId) return void res.json({ orderId, status: r?.released ? 'failed' : 'queued' });
    if (!r) throw unavailable('order stores unavailable');
    throw new AppError(ErrorCode.NOT_PURCHASED);
  };
}
