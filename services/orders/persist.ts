import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { OrderPlaced } from '../core/messaging/topology.js';

export type Outcome = 'persisted' | 'duplicate' | 'failed' | 'unknown_activity';

interface ActivityRow {
  id: string;
  name: string;
  total_stock: number;
  sold: number;
}

/**
 * Writes a batch of claimed orders in one transaction: the activities are locked (in id order, so two
 * workers never deadlock), the orders inserted with ON CONFLICT (activity_id, user_id) DO NOTHING, and
 * `sold` moved by what was actually inserted. An order that would sell beyond `total_stock` is kept as
 * `failed` (its unit is given back after commit) instead of letting the CHECK abort the whole batch.
 */
export async function persistBatch(db: Sequelize, orders: OrderPlaced[]): Promise<Outcome[]> {
  return db.transaction(async (tx) => {
    const names = [...new Set(orders.map((o) => o.activity))];
    const activities = await db.query<ActivityRow>(
      `SELECT id, name, total_stock, sold FROM seckill_activities WHERE name = ANY($1::text[]) ORDER BY id FOR UPDATE`,
      { bind: [names], type: QueryTypes.SELECT, transaction: tx },
    );
    const byName = new Map(activities.map((a) => [a.name, a]));
    const known = orders.filter((o) => byName.has(o.activity));
    const inserted = await insertOrders(db, tx, known, byName);
    const failed = refuseOversell(known, inserted, byName);
    if (failed.size > 0) {
      await db.query(
        `UPDATE orders SET status = 'failed', close_reason = 'oversell_refused', closed_at = now(), updated_at = now()
         WHERE id = ANY($1::uuid[])`,
        { bind: [[...failed]], transaction: tx },
      );
    }
    await moveSold(db, tx, known, inserted, failed, byName);
    return orders.map((o): Outcome => {
      if (!byName.has(o.activity)) return 'unknown_activity';
      if (!inserted.has(o.orderId)) return 'duplicate';
      return failed.has(o.orderId) ? 'failed' : 'persisted';
    });
  });
}

async function insertOrders(
  db: Sequelize,
  tx: Transaction,
  orders: OrderPlaced[],
  byName: Map<string, ActivityRow>,
): Promise<Set<string>> {
  if (orders.length === 0) return new Set();
  const rows = await db.query<{ id: string }>(
    `INSERT INTO orders (id, user_id, activity_id, quantity, amount, status, payment_deadline, request_id)
     SELECT o.id, o.user_id, o.activity_id, o.quantity, a.price * o.quantity, 'pending_payment',
            now() + make_interval(secs => a.payment_window_seconds), o.request_id
     FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::int[])
          AS o(id, user_id, activity_id, quantity, request_id, ord)
     JOIN seckill_activities a ON a.id = o.activity_id
     ORDER BY o.ord
     ON CONFLICT (activity_id, user_id) DO NOTHING
     RETURNING id`,
    {
      bind: [
        orders.map((o) => o.orderId),
        orders.map((o) => o.userId),
        orders.map((o) => (byName.get(o.activity) as ActivityRow).id),
        orders.map((o) => o.quantity),
        orders.map((o) => o.requestId),
        orders.map((_, i) => i),
      ],
      type: QueryTypes.SELECT,
      transaction: tx,
    },
  );
  return new Set(rows.map((r) => r.id));
}

/** Which inserted orders do not fit in what is left of each activity, in message order. */
export function refuseOversell(
  orders: OrderPlaced[],
  inserted: Set<string>,
  byName: Map<string, { total_stock: number; sold: number }>,
): Set<string> {
  const left = new Map([...byName].map(([name, a]) => [name, a.total_stock - a.sold]));
  const failed = new Set<string>();
  for (const o of orders) {
    if (!inserted.has(o.orderId)) continue;
    const room = left.get(o.activity) ?? 0;
    if (o.quantity > room) failed.add(o.orderId);
    else left.set(o.activity, room - o.quantity);
  }
  return failed;
}

async function moveSold(
  db: Sequelize,
  tx: Transaction,
  orders: OrderPlaced[],
  inserted: Set<string>,
  failed: Set<string>,
  byName: Map<string, ActivityRow>,
): Promise<void> {
  const delta = new Map<string, number>();
  for (const o of orders) {
    if (!inserted.has(o.orderId) || failed.has(o.orderId)) continue;
    const id = (byName.get(o.activity) as ActivityRow).id;
    delta.set(id, (delta.get(id) ?? 0) + o.quantity);
  }
  if (delta.size === 0) return;
  await db.query(
    `UPDATE seckill_activities a SET sold = a.sold + d.qty, updated_at = now()
     FROM unnest($1::uuid[], $2::int[]) AS d(id, qty) WHERE a.id = d.id`,
    { bind: [[...delta.keys()], [...delta.values()]], transaction: tx },
  );
}
