import type { RedisClient } from '../core/redis/client.js';
import { v7 as uuidv7 } from 'uuid';
import type { StoredActivity } from '../core/activity/preheat.js';
import { AppError, ErrorCode, unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { FixedTimeouts } from '../core/timeout.js';
import { inSpan, injectInto, logIds, SpanKind, type Context } from '../core/tracing.js';
import type { PurchaseMetrics } from '../core/metrics.js';
import type { OrderPlaced } from '../core/messaging/topology.js';
import { publishOrder, type OrderBatcher } from '../core/messaging/order-batcher.js';
import type { ConfirmPublisher } from '../core/messaging/publisher.js';
import { activityKeys, stockEventsChannel } from '../core/redis/keys.js';
import {
  isArgvError,
  PurchaseCode,
  purchaseError,
  RestoreCode,
  type PurchaseResult,
  type PurchaseTokenArg,
  type Scripts,
} from '../core/redis/scripts.js';
import type { ActivityCache } from './activity-cache.js';

export interface PurchaseRequest {
  activity: string;
  userId: string;
  quantity: number;
  idempotencyKey: string;
  requestId: string;
  /** The purchase token for the script (purchase-route.ts); absent when the sale needs none. */
  token?: PurchaseTokenArg;
  /** The request's trace context when it is traced; the script and publish spans hang below it. */
  trace?: Context;
}

export interface Accepted {
  orderId: string;
  activity: string;
  quantity: number;
  status: 'queued';
}

export interface PurchaseDeps {
  redis: RedisClient;
  scripts: Scripts;
  cache: ActivityCache;
  publisher: ConfirmPublisher;
  /** Shares one message among the orders of a turn (SECKILL_PUBLISH_BATCH_MAX > 1); absent: one each. */
  batcher?: OrderBatcher;
  metrics: PurchaseMetrics;
  log: Logger;
  prefix: string;
  redisTimeoutMs: number;
  now?: () => number;
}

/** Near a window boundary the local clock is not trusted; Redis' clock decides. */
const CLOCK_MARGIN_MS = 2000;

/**
 * The purchase hot path: answers from memory when the answer is certain (sold out, outside the window,
 * over the limit), otherwise one Lua call, then a confirmed publish. A failed publish gives the unit back.
 */
export class PurchaseService {
  private readonly now: () => number;
  private readonly scriptTimeouts: FixedTimeouts;

  constructor(private readonly d: PurchaseDeps) {
    this.now = d.now ?? Date.now;
    this.scriptTimeouts = new FixedTimeouts(d.redisTimeoutMs, 'purchase script');
  }

  async purchase(req: PurchaseRequest): Promise<Accepted> {
    this.rejectFromMemory(req);
    if (this.d.redis.status !== 'ready') throw unavailable('stock store unavailable');
    // Taking a unit we could not announce would only churn stock: refuse before the script.
    if (!this.d.publisher.ready) throw unavailable('order queue unavailable');
    const orderId = uuidv7();
    // A stock event that arrives while the script runs makes its answer too old to set the flag on.
    const epoch = this.d.cache.epoch();
    const r = await this.runScript(req, orderId);
    this.learn(req, r, epoch);
    if (r.remaining >= 0) this.d.metrics.stockRemaining.set({ activity: req.activity }, r.remaining);
    const err = purchaseError(r);
    if (err) throw err;
    // The worker already took a replayed order (its message arrived): answered again, never re-published.
    if (r.code !== PurchaseCode.REPLAYED_TAKEN) await this.publish(req, r, r.code === PurchaseCode.ACCEPTED);
    return { orderId: r.orderId, activity: req.activity, quantity: r.quantity, status: 'queued' };
  }

  /**
   * What the script's answer teaches the in-process cache. Only an empty stock sets the sold-out flag (a
   * SOLD_OUT for a quantity above what is left is not "sold out"). The script reads the buyer entry before
   * the stock, so a SOLD_OUT also says this user holds no order: until a unit comes back (announced, which
   * clears the flag) the user's keyed retries can be answered from memory too.
   */
  private learn(req: PurchaseRequest, r: PurchaseResult, epoch: number): void {
    const empty = r.remaining === 0;
    if (r.code === PurchaseCode.SOLD_OUT && empty) {
      this.d.cache.markSoldOut(req.activity, epoch);
      this.d.cache.markNoEntry(req.activity, req.userId, epoch);
    } else if (r.code === PurchaseCode.ACCEPTED && empty) this.d.cache.markSoldOut(req.activity, epoch);
  }

  /**
   * Answers that need no Redis: the cached view is only used where it cannot wrongly refuse a buyer. A
   * request with an Idempotency-Key may be the retry of an accepted purchase, which must answer 202 again
   * after the sale sold out, ended or paused: only the script can tell, so it goes to Redis (unless the
   * route knew the user holds nothing, see ActivityCache.soldOutFor).
   */
  private rejectFromMemory(req: PurchaseRequest): void {
    const known = this.d.cache.peek(req.activity);
    if (known === null) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
    if (req.idempotencyKey !== '') return;
    if (this.d.cache.isSoldOut(req.activity)) throw new AppError(ErrorCode.SOLD_OUT);
    if (known === undefined) return;
    rejectByInfo(known, req.quantity, this.now());
  }

  private async runScript(req: PurchaseRequest, orderId: string): Promise<PurchaseResult> {
    const k = activityKeys(this.d.prefix, req.activity);
    const run = () =>
      this.d.scripts.purchase(k, req.userId, orderId, req.quantity, req.idempotencyKey, req.token);
    const call = req.trace ? inSpan('redis purchase.lua', run, { parent: req.trace }) : run();
    try {
      return await this.scriptTimeouts.race(call);
    } catch (err) {
      // Refused ARGV: the script read and wrote nothing.
      if (isArgvError(err)) throw err;
      // The script may still run when ioredis re-sends it after a reconnect; a restore queued behind it on
      // the same connection undoes it, so a 503 never leaves a unit taken.
      void this.restore(req, orderId).catch(() => undefined);
      throw unavailable('stock store did not answer in time', err);
    }
  }

  private async publish(req: PurchaseRequest, r: PurchaseResult, fresh: boolean): Promise<void> {
    const msg: OrderPlaced = {
      orderId: r.orderId,
      activity: req.activity,
      userId: req.userId,
      quantity: r.quantity,
      placedAt: new Date(this.now()).toISOString(),
      requestId: req.requestId,
    };
    try {
      // The publish span's context rides in the headers: the worker's span of this order is its child,
      // so a traced order goes alone, never in a batch.
      const send = (ctx?: Context) =>
        publishOrder(
          this.d.publisher,
          msg,
          withTrace({ 'x-request-id': req.requestId, 'x-attempt': 0 }, ctx),
        );
      await (req.trace
        ? inSpan('amqp publish order.placed', send, {
            parent: req.trace,
            kind: SpanKind.PRODUCER,
            attributes: { 'messaging.message.id': r.orderId },
          })
        : this.d.batcher
          ? this.d.batcher.place(msg)
          : send());
    } catch (err) {
      this.d.log.warn(
        { reqId: req.requestId, orderId: r.orderId, err: (err as Error).message, ...logIds(req.trace) },
        'publish failed',
      );
      // A replay must not undo the original request's unit: only a fresh purchase is rolled back here.
      // If the worker already claimed the order (the message did arrive), the purchase stands. If a key
      // replay of it was answered (perhaps 202, on another pod), the unit stays too, but this request saw
      // no confirm: it answers 503 and the shopper's retry gets the same order (the reconciler publishes
      // it should no message of it ever arrive).
      const undo = fresh ? await this.restore(req, r.orderId).catch(() => null) : null;
      if (undo === RestoreCode.CLAIMED) return;
      throw err instanceof AppError ? err : unavailable('order queue unavailable', err);
    }
  }

  private async restore(req: PurchaseRequest, orderId: string): Promise<RestoreCode> {
    const k = activityKeys(this.d.prefix, req.activity);
    const r = await this.d.scripts.restore(
      k,
      req.userId,
      orderId,
      stockEventsChannel(this.d.prefix),
      req.activity,
    );
    return r.code;
  }
}

export function rejectByInfo(a: StoredActivity, quantity: number, now: number): void {
  if (now < a.info.startMs - CLOCK_MARGIN_MS) throw new AppError(ErrorCode.NOT_STARTED);
  if (now >= a.info.endMs + CLOCK_MARGIN_MS) throw new AppError(ErrorCode.ENDED);
  if (a.info.paused) throw new AppError(ErrorCode.NOT_STARTED, 'the sale is paused');
  if (quantity > a.info.maxPerUser) {
    throw new AppError(ErrorCode.LIMIT_EXCEEDED, `at most ${a.info.maxPerUser} per user`);
  }
}

/** The publish span's context rides in the headers: the worker's span of this order is its child. */
const withTrace = (headers: Record<string, unknown>, ctx?: Context) =>
  ctx ? injectInto(headers, ctx) : headers;
