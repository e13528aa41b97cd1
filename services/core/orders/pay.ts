import { QueryTypes, type Sequelize } from 'sequelize';
import { AppError, ErrorCode } from '../errors.js';

export type PaidStatus = 'paid';

/**
 * Marks an order paid. Idempotent (paying a paid order answers paid again). Loses cleanly to the payment
 * timeout: once the deadline has passed, or the sweeper has closed the order, it is 409 ORDER_CLOSED. Only
 * the owner's order is found; anybody else's id is 404, never 403.
 */
export async function payOrder(db: Sequelize, orderId: string, userId: string): Promise<PaidStatus> {
  const rows = await db.query<{ status: string; expired: boolean }>(
    `WITH paid AS (
       UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
       WHERE id = $1 AND user_id = $2 AND status = 'pending_payment' AND payment_deadline > now()
       RETURNING status, false AS expired
     )
     SELECT status, expired FROM paid
     UNION ALL
     SELECT status, payment_deadline <= now() AS expired FROM orders
     WHERE id = $1 AND user_id = $2 AND NOT EXISTS (SELECT 1 FROM paid)`,
    { bind: [orderId, userId], type: QueryTypes.SELECT },
  );
  const row = rows[0];
  if (!row) throw new AppError(ErrorCode.NOT_FOUND, 'no such order');
  if (row.status === 'paid') return 'paid';
  if (row.status === 'closed' || row.status === 'failed' || row.expired) {
    throw new AppError(ErrorCode.ORDER_CLOSED, 'the order was closed: its payment window has passed');
  }
  throw new AppError(ErrorCode.ORDER_CLOSED, `the order cannot be paid in status ${row.status}`);
}
