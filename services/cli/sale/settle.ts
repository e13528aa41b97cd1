import type { RedisClient } from '../../core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { activityKeys } from '../../core/redis/keys.js';
import type { SaleRun } from './run.js';

export interface Settled {
  drainSeconds: number | null;
  paid: number;
  payRefused: number;
  byStatus: Record<string, number>;
  rows: number;
  remaining: number | null;
  invariants: Invariants;
}

export interface Invariants {
  oversold: number;
  duplicate: number;
  lost: number;
  /**
   * Units Redis does not hold although no order keeps them (or holds twice): |stock − paid and pending
   * units − Redis remaining| once every closed order's unit was given back.
   */
  unreturned: number;
  /** With a waiting room: orders whose buyer the room never admitted (each purchase needs an admission). */
  unadmitted?: number;
}

async function until(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Closed or failed orders whose unit the stock outbox has not given back to Redis yet. */
const owedOf = async (db: Sequelize, activity: string): Promise<number> => {
  const [r] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM orders o JOIN seckill_activities a ON a.id = o.activity_id
     WHERE a.name = $1 AND o.status IN ('closed', 'failed') AND o.stock_returned_at IS NULL`,
    { bind: [activity], type: QueryTypes.SELECT },
  );
  return r?.n ?? 0;
};

/** Buyers among `userIds` the room has no admission for (the admits hash keeps every one made). */
async function unadmitted(redis: RedisClient, key: string, userIds: string[]): Promise<number> {
  if (userIds.length === 0) return 0;
  const expiries = await redis.hmget(key, ...userIds);
  return expiries.filter((e) => e === null).length;
}

const rowsOf = (db: Sequelize, activity: string) =>
  db.query<{ id: string; user_id: string; status: string; quantity: number }>(
    `SELECT o.id, o.user_id, o.status, o.quantity FROM orders o JOIN seckill_activities a ON a.id = o.activity_id WHERE a.name = $1`,
    { bind: [activity], type: QueryTypes.SELECT },
  );

/** The rows by status and the invariants, once nothing is pending and every closed unit was given back. */
async function checked(
  d: { db: Sequelize; redis: RedisClient; prefix: string },
  activity: string,
  ids: Set<string>,
  accepted: number,
  o: { stock: number; room: boolean },
): Promise<Omit<Settled, 'drainSeconds' | 'paid' | 'payRefused'>> {
  const rows = await rowsOf(d.db, activity);
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const live = rows
    .filter((r) => r.status === 'paid' || r.status === 'pending_payment')
    .reduce((n, r) => n + r.quantity, 0);
  const have = new Set(rows.map((r) => r.id));
  const buyers = [...new Set(rows.map((r) => r.user_id))];
  const keys = activityKeys(d.prefix, activity);
  const remaining = await d.redis.get(keys.stock);
  return {
    byStatus,
    rows: rows.length,
    remaining: remaining === null ? null : Number(remaining),
    invariants: {
      oversold: Math.max(0, live - o.stock),
      duplicate: rows.length - buyers.length + (accepted - ids.size),
      lost: [...ids].filter((id) => !have.has(id)).length,
      unreturned: Math.abs(o.stock - live - Number(remaining)),
      ...(o.room ? { unadmitted: await unadmitted(d.redis, keys.admits, buyers) } : {}),
    },
  };
}

/**
 * Waits for the pipeline to turn every 202 into a row, pays a share of the orders through the API (as a
 * shopper would), lets the rest time out, then checks the invariants against Postgres and Redis.
 */
export async function settleSale(
  d: { db: Sequelize; redis: RedisClient; prefix: string; apiUrl: string },
  activity: string,
  run: SaleRun,
  tokens: string[],
  o: { stock: number; payShare: number; paymentWindowSeconds: number; room: boolean },
): Promise<Settled> {
  const accepted = run.samples.filter((s) => s.outcome === 'accepted');
  const ids = new Set(accepted.map((s) => s.orderId as string));
  // Each chosen order is paid as soon as its row exists: its payment window runs from the insert, so a
  // slow pipeline must not eat it (paying only after the whole drain raced the window on a busy machine).
  const toPay = new Map(
    accepted.slice(0, Math.floor(accepted.length * o.payShare)).map((s) => [s.orderId, s]),
  );
  const pay = (s: (typeof accepted)[number]) =>
    fetch(`${d.apiUrl}/api/orders/${s.orderId}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[s.user]}` },
      // A pay call that gets no answer counts as refused instead of holding the whole summary.
      signal: AbortSignal.timeout(30_000),
    }).then(
      (r) => r.status,
      () => 0,
    );
  const paying: Promise<number>[] = [];
  const t0 = performance.now();
  const drained = await until(async () => {
    const rows = await rowsOf(d.db, activity);
    for (const r of rows) {
      const s = toPay.get(r.id);
      if (s) paying.push(pay(s));
      toPay.delete(r.id);
    }
    return rows.length >= ids.size;
  }, 120_000);
  const drainSeconds = drained ? (performance.now() - t0) / 1000 : null;
  const answers = await Promise.all(paying);
  await until(
    async () => (await rowsOf(d.db, activity)).every((r) => r.status !== 'pending_payment'),
    (o.paymentWindowSeconds + 30) * 1000,
  );

  await until(async () => (await owedOf(d.db, activity)) === 0, 30_000);
  return {
    drainSeconds,
    paid: answers.filter((s) => s === 200).length,
    payRefused: answers.filter((s) => s !== 200).length,
    ...(await checked(d, activity, ids, accepted.length, o)),
  };
}
