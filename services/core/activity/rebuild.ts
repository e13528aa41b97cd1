import type { RedisClient } from '../redis/client.js';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { activityKeys } from '../redis/keys.js';
import { preheat, type PreheatResult } from './preheat.js';
import type { ActivityInfo } from './spec.js';

/** An order row as the rebuild needs it: `live` unless it is closed or failed (its unit went back). */
export interface RebuiltOrder {
  userId: string;
  orderId: string;
  quantity: number;
  live: boolean;
}

/** Buyer entries written per round trip while rebuilding (the stock key is still missing meanwhile). */
const CHUNK = 1000;

/**
 * Preheat that survives the loss of an activity's Redis state (failover to an empty replica, a flush).
 * A missing stock key with orders in Postgres is not a first preheat: recreating stock = total would let
 * earlier buyers buy again (their second order hits the unique key and is dropped after a 202) and sell
 * units the orders still hold. Instead the activity is rebuilt from Postgres, the source of truth for
 * orders: stock = total − units held by orders that are not closed or failed, and every order gets its
 * buyer entry back, marked claimed (a restore can no longer undo it) and, when closed or failed,
 * released (its unit was given back; release.lua will not give it twice).
 *
 * Runs inside applyActivity's transaction, which holds the activity's row lock: two applies cannot
 * rebuild at once, and no order of this activity commits meanwhile (the worker's `sold` update waits).
 */
export async function preheatFromPostgres(
  db: Sequelize,
  transaction: Transaction,
  redis: RedisClient,
  prefix: string,
  info: ActivityInfo,
): Promise<PreheatResult> {
  if (await redis.exists(activityKeys(prefix, info.name).stock)) return preheat(redis, prefix, info);
  const orders = await db.query<{ user_id: string; id: string; quantity: number; live: boolean }>(
    `SELECT o.user_id, o.id, o.quantity, o.status NOT IN ('closed', 'failed') AS live
     FROM orders o JOIN seckill_activities a ON a.id = o.activity_id WHERE a.name = $1`,
    { bind: [info.name], type: QueryTypes.SELECT, transaction },
  );
  return rebuildRedis(
    redis,
    prefix,
    info,
    orders.map((o) => ({ userId: o.user_id, orderId: o.id, quantity: o.quantity, live: o.live })),
  );
}

/**
 * The Redis half of the rebuild (the property test drives it with generated orders): buyer entries and
 * markers first, then the stock key, created only if still missing (preheat.lua's SET NX semantics), so
 * purchases answer "not preheated" until the entries are all back. With no orders it is a first preheat.
 */
export async function rebuildRedis(
  redis: RedisClient,
  prefix: string,
  info: ActivityInfo,
  orders: RebuiltOrder[],
): Promise<PreheatResult> {
  const k = activityKeys(prefix, info.name);
  for (let i = 0; i < orders.length; i += CHUNK) {
    const m = redis.multi();
    for (const o of orders.slice(i, i + CHUNK)) {
      m.hset(k.buyers, o.userId, `${o.orderId}:${o.quantity}`);
      m.hset(k.claimed, o.orderId, '1');
      if (!o.live) m.hsetnx(k.released, o.orderId, '1');
    }
    await m.exec();
  }
  const held = orders.reduce((s, o) => s + (o.live ? o.quantity : 0), 0);
  return preheat(redis, prefix, info, held);
}
