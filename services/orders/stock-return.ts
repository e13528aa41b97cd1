import type { RedisClient } from '../core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { activityKeys, stockEventsChannel } from '../core/redis/keys.js';
import { Scripts } from '../core/redis/scripts.js';

interface Owed {
  id: string;
  user_id: string;
  name: string;
}

/**
 * The stock outbox: every closed or failed order owes its unit to Redis until `stock_returned_at` is set.
 * Postgres decides (a status change commits first); this gives the units back with lua/release.lua, which
 * is exactly-once per order, then marks them. A crash between the two only repeats a no-op release.
 */
export async function returnOwedUnits(
  db: Sequelize,
  redis: RedisClient,
  prefix: string,
  limit = 500,
): Promise<number> {
  const owed = await db.query<Owed>(
    `SELECT o.id, o.user_id, a.name FROM orders o JOIN seckill_activities a ON a.id = o.activity_id
     WHERE o.status IN ('closed', 'failed') AND o.stock_returned_at IS NULL LIMIT $1`,
    { bind: [limit], type: QueryTypes.SELECT },
  );
  if (owed.length === 0) return 0;
  const scripts = new Scripts(redis);
  const channel = stockEventsChannel(prefix);
  // ioredis pipelines calls made in the same tick: one round trip for the whole page.
  await Promise.all(
    owed.map((o) => scripts.release(activityKeys(prefix, o.name), o.user_id, o.id, channel, o.name)),
  );
  await db.query(`UPDATE orders SET stock_returned_at = now() WHERE id = ANY($1::uuid[])`, {
    bind: [owed.map((o) => o.id)],
  });
  return owed.length;
}

/**
 * Closes unpaid orders whose deadline passed, whatever their activity's window: one query over the partial
 * index by deadline, so a long window never holds back a short one. Pay and close both require
 * `status = 'pending_payment'` under the row lock: exactly one of them wins.
 */
export async function closeExpired(db: Sequelize, limit = 500): Promise<number> {
  const [rows] = await db.query(
    `WITH expired AS (
       SELECT id FROM orders WHERE status = 'pending_payment' AND payment_deadline <= now()
       ORDER BY payment_deadline LIMIT $1 FOR UPDATE SKIP LOCKED
     ), closed AS (
       UPDATE orders o SET status = 'closed', closed_at = now(), close_reason = 'payment_timeout', updated_at = now()
       FROM expired e WHERE o.id = e.id AND o.status = 'pending_payment'
       RETURNING o.activity_id, o.quantity
     ), returned AS (
       UPDATE seckill_activities a SET sold = a.sold - s.qty, updated_at = now()
       FROM (SELECT activity_id, sum(quantity)::int AS qty FROM closed GROUP BY activity_id) s
       WHERE a.id = s.activity_id
       RETURNING a.id
     )
     SELECT count(*)::int AS n FROM closed`,
    { bind: [limit] },
  );
  return (rows as { n: number }[])[0]?.n ?? 0;
}
