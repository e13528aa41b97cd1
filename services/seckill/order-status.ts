import { QueryTypes, type Sequelize } from 'sequelize';
import type { OrderStatus, OrderStatusSource } from './routes.js';

/**
 * `GET /seckill/:activity/result` reads the order's later life from Postgres once the worker has written
 * it. Postgres is not on the purchase path: when it cannot answer, the result falls back to Redis
 * ("queued"), so the route degrades instead of failing.
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
