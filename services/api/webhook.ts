import { createHmac, timingSafeEqual } from 'node:crypto';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { AppError, ErrorCode, unavailable } from '../core/errors.js';
import { tryPay, type PayOutcome } from '../core/orders/pay.js';

/**
 * `X-Stampede-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The timestamp is
 * signed with the body, so a captured delivery cannot be replayed outside the tolerance window; inside it,
 * the event id makes a replay answer the first result instead of acting again.
 */
export function signWebhook(
  secret: string,
  rawBody: string | Buffer,
  t = Math.floor(Date.now() / 1000),
): string {
  const mac = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest('hex');
  return `t=${t},v1=${mac}`;
}

export function verifyWebhook(
  secret: string,
  header: string | undefined,
  rawBody: Buffer,
  toleranceSeconds: number,
  now = Date.now(),
): void {
  const m = header ? /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header) : null;
  if (!m) throw new AppError(ErrorCode.UNAUTHORIZED, 'missing or malformed X-Stampede-Signature');
  const t = Number(m[1]);
  if (Math.abs(now / 1000 - t) > toleranceSeconds)
    throw new AppError(ErrorCode.UNAUTHORIZED, 'signature timestamp outside the tolerance window');
  const expected = Buffer.from(signWebhook(secret, rawBody, t).slice(-64), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(m[2] as string, 'hex')))
    throw new AppError(ErrorCode.UNAUTHORIZED, 'bad signature');
}

/** How long a provider should wait before retrying an event for an order not written yet. */
export const WEBHOOK_RETRY_AFTER_SECONDS = 5;

/** What the provider says was paid; `amount` is a decimal string ("4999.00"), never a float. */
export interface PaymentEvent {
  eventId: string;
  orderId: string;
  amount: string;
  currency: string;
}

/** `mismatch`: the event's amount or currency is not the order's; refused, and kept on record. */
export type WebhookOutcome = PayOutcome | 'mismatch';

/**
 * Applies a payment event once; a repeat of the same event id answers the stored result. The event id is
 * claimed first (INSERT … ON CONFLICT): a concurrent delivery of the same id waits on it, then reads the
 * first one's result instead of failing on the key. The event's amount and currency must be the order's
 * (`currency` is PAYMENT_CURRENCY): otherwise nothing is paid and the row records `mismatch` with what
 * was claimed. A payment for an order the worker has not written yet is not stored (a `not_found` kept
 * for good would swallow it): 503 with Retry-After, so the provider retries and the payment applies once
 * the row exists. Rows stored as `not_found` by older versions are judged again.
 */
export async function applyPaymentEvent(
  db: Sequelize,
  e: PaymentEvent,
  currency: string,
): Promise<WebhookOutcome> {
  return db.transaction(async (transaction) => {
    const [claimed] = await db.query<{ event_id: string }>(
      `INSERT INTO payment_events (event_id, order_id, result, amount, currency) VALUES ($1, $2, 'pending', $3, $4)
       ON CONFLICT (event_id) DO UPDATE SET result = 'pending', order_id = EXCLUDED.order_id,
         amount = EXCLUDED.amount, currency = EXCLUDED.currency
       WHERE payment_events.result = 'not_found'
       RETURNING event_id`,
      { bind: [e.eventId, e.orderId, e.amount, e.currency], type: QueryTypes.SELECT, transaction },
    );
    if (!claimed) return storedResult(db, e.eventId, e.orderId, transaction);
    const [order] = await db.query<{ same: boolean }>(
      'SELECT amount = $2::numeric AS same FROM orders WHERE id = $1',
      { bind: [e.orderId, e.amount], type: QueryTypes.SELECT, transaction },
    );
    const outcome: WebhookOutcome = !order
      ? 'not_found'
      : !order.same || e.currency !== currency
        ? 'mismatch'
        : await tryPay(db, e.orderId, null, transaction);
    if (outcome === 'not_found') {
      // Rolls the claim back with the transaction: nothing is remembered about this delivery.
      throw unavailable('the order is not known yet; retry later', undefined, WEBHOOK_RETRY_AFTER_SECONDS);
    }
    await db.query('UPDATE payment_events SET result = $2 WHERE event_id = $1', {
      bind: [e.eventId, outcome],
      transaction,
    });
    return outcome;
  });
}

async function storedResult(
  db: Sequelize,
  eventId: string,
  orderId: string,
  transaction: Transaction,
): Promise<WebhookOutcome> {
  const [seen] = await db.query<{ result: WebhookOutcome; order_id: string }>(
    'SELECT result, order_id FROM payment_events WHERE event_id = $1',
    { bind: [eventId], type: QueryTypes.SELECT, transaction },
  );
  if (!seen) throw unavailable('the event is being processed; retry later');
  if (seen.order_id !== orderId)
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'event id reused for another order');
  return seen.result;
}
