import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** What `POST /seckill/:activity/token` answers. */
export interface IssuedToken {
  token: string;
  expiresAt: string;
}

const NONCE = /^[A-Za-z0-9_-]{22}$/;
const EXPIRY = /^[0-9a-z]{1,12}$/;
const MAX_TOKEN_LENGTH = 96;
/** A domain separator: the purchase-token key is derived from JWT_SECRET but never equals it. */
const KEY_LABEL = 'stampede purchase token v1';

/**
 * Purchase tokens: `<expiry ms, base 36>.<nonce>.<HMAC-SHA256>`, the MAC over activity, user, expiry and
 * nonce. Signed, not stored: verifying one is a hash on the hot path, no network. The activity and the
 * user are not in the token; the purchase supplies them (URL, verified JWT), so another user's or another
 * activity's token simply fails the MAC. Reuse is refused by the purchase script (the nonce, spent once).
 * The key derives from JWT_SECRET (and JWT_SECRET_PREVIOUS during a rotation): one secret to manage.
 */
export class PurchaseTokens {
  private readonly keys: Buffer[];

  constructor(
    secret: string,
    previous: string | undefined,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = [secret, previous]
      .filter((s): s is string => Boolean(s))
      .map((s) => createHmac('sha256', s).update(KEY_LABEL).digest());
  }

  issue(activity: string, userId: string): IssuedToken {
    return this.issueUntil(activity, userId, this.now() + this.ttlMs);
  }

  /** A token valid until `exp` (epoch ms): a waiting-room admission's lasts as long as the admission. */
  issueUntil(activity: string, userId: string, exp: number): IssuedToken {
    const body = `${exp.toString(36)}.${randomBytes(16).toString('base64url')}`;
    const mac = this.mac(this.keys[0] as Buffer, activity, userId, body).toString('base64url');
    return { token: `${body}.${mac}`, expiresAt: new Date(exp).toISOString() };
  }

  /** The token's nonce when it is well-formed, unexpired and made for this activity and user; else null. */
  verify(token: string, activity: string, userId: string): string | null {
    if (token.length > MAX_TOKEN_LENGTH) return null;
    const [exp, nonce, mac, extra] = token.split('.');
    if (extra !== undefined || !exp || !nonce || !mac || !EXPIRY.test(exp) || !NONCE.test(nonce)) return null;
    if (parseInt(exp, 36) <= this.now()) return null;
    const given = Buffer.from(mac, 'base64url');
    const body = `${exp}.${nonce}`;
    for (const key of this.keys) {
      const want = this.mac(key, activity, userId, body);
      if (given.length === want.length && timingSafeEqual(given, want)) return nonce;
    }
    return null;
  }

  private mac(key: Buffer, activity: string, userId: string, body: string): Buffer {
    return createHmac('sha256', key).update(`${activity}\n${userId}\n${body}`).digest();
  }
}
