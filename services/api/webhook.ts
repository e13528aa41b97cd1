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

/**
 * Applies a payment event once; a repeat of the same event id answers the stored result. The event id is
 * claimed first (INSERT … ON CONFLICT): a concurrent delivery of the same id waits on it, then reads the
 * first one's result instead of failing on the key. A payment for an order the worker has not written yet
 * is not stored (a `not_found` kept for good would swallow it): 503 with Retry-After, so the provider
 * retries and the payment applies once the row exists. Rows stored as `not_found` by older versions are
 * judged again.
 */
export async function applyPaymentEvent(
  db: Sequelize,
  eventId: string,
  orderId: string,
): Promise<PayOutcome> {
  return db.transaction(async (transaction) => {
    const [claimed] = await db.query<{ event_id: string }>(
      `INSERT INTO payment_events (event_id, order_id, result) VALUES ($1, $2, 'pending')
       ON CONFLICT (event_id) DO UPDATE SET result = 'pending', order_id = EXCLUDED.order_id
       WHERE payment_events.result = 'not_found'
       RETURNING event_id`,
      { bind: [eventId, orderId], type: QueryTypes.SELECT, transaction },
    );
    if (!claimed) return storedResult(db, eventId, orderId, transaction);
    const outcome = await tryPay(db, orderId, null, transaction);
    if (outcome === 'not_found') {
      // Rolls the claim back with the transaction: nothing is remembered about this delivery.
      throw unavailable('the order is not known yet; retry later', undefined, WEBHOOK_RETRY_AFTER_SECONDS);
    }
    await db.query('UPDATE payment_events SET result = $2 WHERE event_id = $1', {
      bind: [eventId, outcome],
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
): Promise<PayOutcome> {
  const [seen] = await db.query<{ result: PayOutcome; order_id: string }>(
    'SELECT result, order_id FROM payment_events WHERE event_id = $1',
    { bind: [eventId], type: QueryTypes.SELECT, transaction },
  );
  if (!seen) throw unavailable('the event is being processed; retry later');
  if (seen.order_id !== orderId)
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'event id reused for another order');
  return seen.result;
}
