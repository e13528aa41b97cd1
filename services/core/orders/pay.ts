import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { AppError, ErrorCode } from '../errors.js';

export type PayOutcome = 'paid' | 'closed' | 'not_found';

/**
 * Marks an order paid, idempotently (a paid order answers paid again). It loses cleanly to the payment
 * timeout: past the deadline, or once closed, the outcome is `closed`. With a user id only that user's
 * order is found, so anybody else's id looks exactly like one that does not exist.
 */
export async function tryPay(
  db: Sequelize,
  orderId: string,
  userId: string | null,
  transaction?: Transaction,
): Promise<PayOutcome> {
  const rows = await db.query<{ status: string; expired: boolean }>(
    `WITH paid AS (
       UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
       WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) AND status = 'pending_payment' AND payment_deadline > now()
       RETURNING status, false AS expired
     )
     SELECT status, expired FROM paid
     UNION ALL
     SELECT status, payment_deadline <= now() AS expired FROM orders
     WHERE id = $1 AND ($2::text IS NULL OR user_id = $2) AND NOT EXISTS (SELECT 1 FROM paid)`,
    { bind: [orderId, userId], type: QueryTypes.SELECT, ...(transaction ? { transaction } : {}) },
  );
  const row = rows[0];
  if (!row) return 'not_found';
  return row.status === 'paid' ? 'paid' : 'closed';
}

/** `tryPay` for a shopper: 404 for an order that is not theirs, 409 ORDER_CLOSED when the timeout won. */
export async function payOrder(db: Sequelize, orderId: string, userId: string): Promise<'paid'> {
  const outcome = await tryPay(db, orderId, userId);
  if (outcome === 'not_found') throw new AppError(ErrorCode.NOT_FOUND, 'no such order');
  if (outcome === 'closed')
    throw new AppError(ErrorCode.ORDER_CLOSED, 'the payment window has passed; the order is closed');
  return outcome;
}
