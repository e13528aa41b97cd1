import express, { Router } from 'express';
import { QueryTypes, type Sequelize } from 'sequelize';
import { z } from 'zod';
import type { TokenService } from '../../core/auth/jwt.js';
import { AppError, ErrorCode } from '../../core/errors.js';
import { payOrder } from '../../core/orders/pay.js';
import { authenticate, principal } from '../guard.js';
import { pageQuery, totalOf } from '../pagination.js';
import { parse } from '../validate.js';
import { applyPaymentEvent, verifyWebhook } from '../webhook.js';

interface OrderRow {
  id: string;
  activity: string;
  quantity: number;
  amount: string;
  status: string;
  payment_deadline: Date;
  created_at: Date;
  paid_at: Date | null;
  total: number;
}

const view = (o: OrderRow) => ({
  id: o.id,
  activity: o.activity,
  quantity: o.quantity,
  amount: o.amount,
  status: o.status,
  paymentDeadline: o.payment_deadline.toISOString(),
  createdAt: o.created_at.toISOString(),
  paidAt: o.paid_at?.toISOString() ?? null,
});

const SELECT = `SELECT o.id, a.name AS activity, o.quantity, o.amount, o.status, o.payment_deadline, o.created_at,
  o.paid_at, count(*) OVER ()::int AS total FROM orders o JOIN seckill_activities a ON a.id = o.activity_id`;
const orderId = z.string().uuid();
const noBody = z.union([z.undefined(), z.object({}).strict()]);

/**
 * A shopper's own orders only: another user's id answers exactly like an id that does not exist. The
 * simulated `POST /:id/pay` (paid with no payment at all) exists only with PAYMENT_SIMULATION=true (npm
 * start); without it the route is not mounted and answers 404 like any unknown path.
 */
export function orderRoutes(db: Sequelize, tokens: TokenService, simulatePayments: boolean): Router {
  const r = Router();
  r.use(authenticate(tokens));
  r.get('/', async (req, res) => {
    const q = parse(pageQuery, req.query);
    const rows = await db.query<OrderRow>(
      `${SELECT} WHERE o.user_id = $1 ORDER BY o.created_at DESC, o.id LIMIT $2 OFFSET $3`,
      {
        bind: [principal(req).userId, q.pageSize, (q.page - 1) * q.pageSize],
        type: QueryTypes.SELECT,
      },
    );
    const total = await totalOf(rows, q.page, db, 'FROM orders o WHERE o.user_id = $1', [
      principal(req).userId,
    ]);
    res.json({ items: rows.map(view), page: q.page, pageSize: q.pageSize, total });
  });
  r.get('/:id', async (req, res) => {
    const id = orderId.safeParse(req.params.id);
    const [row] = id.success
      ? await db.query<OrderRow>(`${SELECT} WHERE o.id = $1 AND o.user_id = $2`, {
          bind: [id.data, principal(req).userId],
          type: QueryTypes.SELECT,
        })
      : [];
    if (!row) throw new AppError(ErrorCode.NOT_FOUND, 'no such order');
    res.json(view(row));
  });
  if (!simulatePayments) return r;
  r.post('/:id/pay', async (req, res) => {
    parse(noBody, req.body);
    const id = orderId.safeParse(req.params.id);
    if (!id.success) throw new AppError(ErrorCode.NOT_FOUND, 'no such order');
    res.json({ status: await payOrder(db, id.data, principal(req).userId) });
  });
  return r;
}

const event = z
  .object({
    eventId: z.string().min(1).max(128),
    type: z.literal('payment.succeeded'),
    orderId,
    // Money as a decimal string (a float cannot hold 0.10 exactly); fits the orders' numeric(14, 2).
    amount: z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'a decimal amount such as "4999.00"'),
    currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code'),
  })
  .strict();

export interface WebhookOptions {
  secret: string;
  toleranceSeconds: number;
  /** PAYMENT_CURRENCY: the only currency an order is paid in. */
  currency: string;
}

/**
 * The payment provider's callback: signed over the raw body, idempotent per event id; an event whose
 * amount or currency is not the order's is refused with 422 PAYMENT_MISMATCH (and recorded).
 */
export function webhookRoutes(db: Sequelize, o: WebhookOptions): Router {
  const r = Router();
  r.post('/webhook', express.raw({ type: '*/*', limit: '16kb' }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    verifyWebhook(o.secret, req.header('x-stampede-signature'), raw, o.toleranceSeconds);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'malformed JSON body');
    }
    const e = parse(event, body);
    const outcome = await applyPaymentEvent(db, e, o.currency);
    if (outcome === 'not_found') throw new AppError(ErrorCode.NOT_FOUND, 'no such order');
    if (outcome === 'mismatch') {
      throw new AppError(
        ErrorCode.PAYMENT_MISMATCH,
        `the amount or currency is not the order's (orders are paid in ${o.currency}); nothing was paid`,
      );
    }
    // A payment for an order the timeout already closed is acknowledged (so the provider stops retrying)
    // and flagged for a refund.
    res.json({
      eventId: e.eventId,
      orderId: e.orderId,
      status: outcome,
      ...(outcome === 'closed' ? { action: 'refund' } : {}),
    });
  });
  return r;
}
