import type { Redis } from 'ioredis';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { Logger } from '../core/log.js';
import type { OrderMetrics } from '../core/metrics.js';
import type { ConfirmPublisher } from '../core/messaging/publisher.js';
import { ROUTING, type OrderPlaced } from '../core/messaging/topology.js';
import { activityKeys } from '../core/redis/keys.js';

export interface ReconcileDeps {
  db: Sequelize;
  redis: Redis;
  prefix: string;
  publisher: ConfirmPublisher;
  metrics: OrderMetrics;
  log: Logger;
  graceMs: number;
  now?: () => number;
}

/** Milliseconds since the epoch encoded in a UUIDv7 (its first 48 bits). */
export const uuidv7Time = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

interface ActivityRow {
  name: string;
  sold: number;
}

/**
 * The buyers hash doubles as the outbox: an entry (not given back) older than the grace period whose order
 * has no row was accepted but its message was lost; it is published again (the worker's claim and the
 * unique key make that safe). Also exports Redis-vs-Postgres drift per activity.
 */
export async function reconcile(d: ReconcileDeps): Promise<number> {
  const activities = await d.db.query<ActivityRow>(
    `SELECT name, sold FROM seckill_activities WHERE end_time > now() - interval '1 day'`,
    { type: QueryTypes.SELECT },
  );
  let republished = 0;
  for (const a of activities) republished += await reconcileActivity(d, a);
  return republished;
}

async function reconcileActivity(d: ReconcileDeps, a: ActivityRow): Promise<number> {
  const k = activityKeys(d.prefix, a.name);
  const res = await d.redis
    .multi()
    .hgetall(k.buyers)
    .hgetall(k.released)
    .get(k.stock)
    .hget(k.info, 'total')
    .exec();
  const buyers = (res?.[0]?.[1] ?? {}) as Record<string, string>;
  const released = (res?.[1]?.[1] ?? {}) as Record<string, string>;
  const stock = res?.[2]?.[1] as string | null;
  const total = res?.[3]?.[1] as string | null;
  if (stock === null || total === null) return 0;
  d.metrics.drift.set({ activity: a.name }, Number(total) - Number(stock) - a.sold);

  const cutoff = (d.now ?? Date.now)() - d.graceMs;
  const candidates = Object.entries(buyers)
    .map(([userId, v]) => ({
      userId,
      orderId: v.slice(0, v.indexOf(':')),
      quantity: Number(v.slice(v.indexOf(':') + 1)),
    }))
    .filter((c) => !released[c.orderId] && uuidv7Time(c.orderId) < cutoff);
  if (candidates.length === 0) return 0;
  const found = await d.db.query<{ id: string }>(`SELECT id FROM orders WHERE id = ANY($1::uuid[])`, {
    bind: [candidates.map((c) => c.orderId)],
    type: QueryTypes.SELECT,
  });
  const have = new Set(found.map((r) => r.id));
  const missing = candidates.filter((c) => !have.has(c.orderId));
  for (const c of missing) {
    const msg: OrderPlaced = {
      orderId: c.orderId,
      activity: a.name,
      userId: c.userId,
      quantity: c.quantity,
      placedAt: new Date(uuidv7Time(c.orderId)).toISOString(),
      requestId: `reconcile-${c.orderId}`,
    };
    await d.publisher.publish(ROUTING.placed, msg, {
      messageId: c.orderId,
      headers: { 'x-attempt': 0, 'x-reconciled': true },
    });
  }
  if (missing.length)
    d.log.warn({ activity: a.name, count: missing.length }, 're-published accepted orders without a row');
  return missing.length;
}
