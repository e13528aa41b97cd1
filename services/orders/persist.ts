import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { OrderPlaced } from '../core/messaging/topology.js';

export type Outcome = 'persisted' | 'duplicate' | 'failed' | 'unknown_activity';

/** Activity ids never change once registered: resolved once per process. */
export class ActivityIds {
  private readonly ids = new Map<string, string>();

  constructor(private readonly db: Sequelize) {}

  async resolve(names: string[]): Promise<Map<string, string>> {
    const missing = names.filter((n) => !this.ids.has(n));
    if (missing.length) {
      const rows = await this.db.query<{ id: string; name: string }>(
        'SELECT id, name FROM seckill_activities WHERE name = ANY($1::text[])',
        { bind: [missing], type: QueryTypes.SELECT },
      );
      for (const r of rows) this.ids.set(r.name, r.id);
    }
    return new Map(names.filter((n) => this.ids.has(n)).map((n) => [n, this.ids.get(n) as string]));
  }
}

/**
 * Writes a batch of claimed orders in one transaction: insert with ON CONFLICT (activity_id, user_id)
 * DO NOTHING, then move each activity's `sold` by what was actually inserted. Usually one statement
 * (insertAndMove). Only when Postgres refuses that (Redis sold more than Postgres allows) does the slow
 * path lock the activity and keep the orders that fit, marking the rest `failed` (their units are given
 * back after commit) instead of failing the whole batch.
 */
export async function persistBatch(
  db: Sequelize,
  ids: ActivityIds,
  orders: OrderPlaced[],
): Promise<Outcome[]> {
  const byName = await ids.resolve([...new Set(orders.map((o) => o.activity))]);
  // A message can be in a batch twice (redelivery next to a reconciler re-publish): only the first copy
  // of an order, or of a (activity, user) pair, is written; the others are duplicates.
  const seen = new Set<string>();
  const first = new Set<OrderPlaced>();
  for (const o of orders) {
    const keys = [`o:${o.orderId}`, `u:${o.activity}\u0000${o.userId}`];
    if (keys.some((k) => seen.has(k))) continue;
    keys.forEach((k) => seen.add(k));
    first.add(o);
  }
  const known = orders.filter((o) => byName.has(o.activity) && first.has(o));
  const fast = known.length ? await insertAndMove(db, known, byName) : new Set<string>();
  const { inserted, failed } = fast
    ? { inserted: fast, failed: new Set<string>() }
    : await db.transaction(async (tx) => {
        const ins = await insertOrders(db, tx, known, byName);
        return { inserted: ins, failed: await moveSold(db, tx, known, ins, byName) };
      });
  return orders.map((o): Outcome => {
    if (!byName.has(o.activity)) return 'unknown_activity';
    if (!first.has(o) || !inserted.has(o.orderId)) return 'duplicate';
    return failed.has(o.orderId) ? 'failed' : 'persisted';
  });
}

/** The orders of a batch as the arrays `unnest` takes ($1 … $6 of both inserts). */
const orderArrays = (orders: OrderPlaced[], byName: Map<string, string>): unknown[] => [
  orders.map((o) => o.orderId),
  orders.map((o) => o.userId),
  orders.map((o) => byName.get(o.activity) as string),
  orders.map((o) => o.quantity),
  orders.map((o) => o.requestId),
  orders.map((_, i) => i),
];

const INSERTED = `INSERT INTO orders (id, user_id, activity_id, quantity, amount, status, payment_deadline, request_id)
     SELECT o.id, o.user_id, o.activity_id, o.quantity, a.price * o.quantity, 'pending_payment',
            now() + make_interval(secs => a.payment_window_seconds), o.request_id
     FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::int[])
          AS o(id, user_id, activity_id, quantity, request_id, ord)
     JOIN seckill_activities a ON a.id = o.activity_id
     ORDER BY o.ord
     ON CONFLICT (activity_id, user_id) DO NOTHING`;

/** Postgres refused the one-statement write as a whole: an oversell (the CHECK) or a lock cycle. */
const FALL_BACK = new Set(['23514', '40P01']);

/**
 * The common case in one statement (its own transaction, one round trip instead of BEGIN, INSERT,
 * UPDATE, COMMIT): insert, then move each activity's `sold` by what was inserted. When that would sell
 * more than `total_stock`, the CHECK aborts the whole statement (nothing written) and null sends the
 * batch to the transaction that keeps what fits. A lock cycle between activities does the same, since
 * that path locks them in id order.
 */
async function insertAndMove(
  db: Sequelize,
  orders: OrderPlaced[],
  byName: Map<string, string>,
): Promise<Set<string> | null> {
  try {
    const rows = await db.query<{ id: string }>(
      `WITH ins AS (${INSERTED} RETURNING id, activity_id, quantity),
       moved AS (
         UPDATE seckill_activities s SET sold = s.sold + d.delta, updated_at = now()
         FROM (SELECT activity_id, sum(quantity)::int AS delta FROM ins GROUP BY activity_id) d
         WHERE s.id = d.activity_id)
       SELECT id FROM ins`,
      { bind: orderArrays(orders, byName), type: QueryTypes.SELECT },
    );
    return new Set(rows.map((r) => r.id));
  } catch (err) {
    const code = (err as { parent?: { code?: string } }).parent?.code;
    if (code !== undefined && FALL_BACK.has(code)) return null;
    throw err;
  }
}

async function insertOrders(
  db: Sequelize,
  tx: Transaction,
  orders: OrderPlaced[],
  byName: Map<string, string>,
): Promise<Set<string>> {
  const rows = await db.query<{ id: string }>(`${INSERTED} RETURNING id`, {
    bind: orderArrays(orders, byName),
    type: QueryTypes.SELECT,
    transaction: tx,
  });
  return new Set(rows.map((r) => r.id));
}

/** Returns the inserted orders that did not fit (now `failed`). Activities are updated in id order. */
async function moveSold(
  db: Sequelize,
  tx: Transaction,
  orders: OrderPlaced[],
  inserted: Set<string>,
  byName: Map<string, string>,
): Promise<Set<string>> {
  const failed = new Set<string>();
  const perActivity = new Map<string, OrderPlaced[]>();
  for (const o of orders) {
    if (!inserted.has(o.orderId)) continue;
    const id = byName.get(o.activity) as string;
    perActivity.set(id, [...(perActivity.get(id) ?? []), o]);
  }
  for (const id of [...perActivity.keys()].sort()) {
    const mine = perActivity.get(id) as OrderPlaced[];
    const delta = mine.reduce((s, o) => s + o.quantity, 0);
    const [ok] = await db.query<{ id: string }>(
      `UPDATE seckill_activities SET sold = sold + $2, updated_at = now() WHERE id = $1 AND sold + $2 <= total_stock RETURNING id`,
      { bind: [id, delta], type: QueryTypes.SELECT, transaction: tx },
    );
    if (!ok) for (const f of await keepWhatFits(db, tx, id, mine)) failed.add(f);
  }
  return failed;
}

async function keepWhatFits(
  db: Sequelize,
  tx: Transaction,
  id: string,
  orders: OrderPlaced[],
): Promise<string[]> {
  const [a] = await db.query<{ room: number }>(
    'SELECT total_stock - sold AS room FROM seckill_activities WHERE id = $1 FOR UPDATE',
    { bind: [id], type: QueryTypes.SELECT, transaction: tx },
  );
  const { fit, refused } = splitByRoom(orders, a?.room ?? 0);
  await db.query(
    `UPDATE orders SET status = 'failed', close_reason = 'oversell_refused', closed_at = now(), updated_at = now()
     WHERE id = ANY($1::uuid[])`,
    { bind: [refused], transaction: tx },
  );
  await db.query('UPDATE seckill_activities SET sold = sold + $2, updated_at = now() WHERE id = $1', {
    bind: [id, fit],
    transaction: tx,
  });
  return refused;
}

/** In message order, the orders that fit in `room` units, and the ids of those that do not. */
export function splitByRoom(orders: OrderPlaced[], room: number): { fit: number; refused: string[] } {
  let left = room;
  const refused: string[] = [];
  for (const o of orders) {
    if (o.quantity > left) refused.push(o.orderId);
    else left -= o.quantity;
  }
  return { fit: room - left, refused };
}
