import { createHmac, timingSafeEqual } from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';
import { AppError, ErrorCode } from '../core/errors.js';
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

/** Applies a payment event once; a repeat of the same event id answers the stored result. */
export async function applyPaymentEvent(
  db: Sequelize,
  eventId: string,
  orderId: string,
): Promise<PayOutcome> {
  return db.transaction(async (transaction) => {
    const [seen] = await db.query<{ result: PayOutcome; order_id: string }>(
      'SELECT result, order_id FROM payment_events WHERE event_id = $1 FOR UPDATE',
      { bind: [eventId], type: QueryTypes.SELECT, transaction },
    );
    if (seen) {
      if (seen.order_id !== orderId)
        throw new AppError(ErrorCode.VALIDATION_FAILED, 'event id reused for another order');
      return seen.result;
    }
    const outcome = await tryPay(db, orderId, null, transaction);
    await db.query('INSERT INTO payment_events (event_id, order_id, result) VALUES ($1, $2, $3)', {
      bind: [eventId, orderId, outcome],
      transaction,
    });
    return outcome;
  });
}
