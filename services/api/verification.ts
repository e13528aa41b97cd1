import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { JWT_ISSUER } from '../core/auth/jwt.js';
import { verifyHs256 } from '../core/auth/hs256.js';
import type { Logger } from '../core/log.js';
import { createTransport } from 'nodemailer';
import { QueryTypes, type Sequelize } from 'sequelize';
import { AppError, ErrorCode } from '../core/errors.js';

/**
 * Email verification links (issue 20 point 13): an HS256 JWT with `purpose: "verify-email"`, its own
 * audience and a key derived from JWT_SECRET, so it can never pass as an access token (nor one as it). It
 * names the user and the address it was mailed to (an address changed since is not verified by an old
 * link) and expires after VERIFY_TTL_SECONDS. A JWT_SECRET rotation voids links in flight: ask for another.
 */
export const VERIFY_AUDIENCE = 'stampede:verify-email';
export const VERIFY_TTL_SECONDS = 24 * 3600;
const PURPOSE = 'verify-email';

export interface Verified {
  userId: string;
  email: string;
}

export class VerificationLinks {
  private readonly key: Buffer;

  constructor(
    jwtSecret: string,
    private readonly publicUrl: string,
  ) {
    this.key = createHash('sha256').update(`stampede-verify-email:${jwtSecret}`).digest();
  }

  async link(userId: string, email: string): Promise<string> {
    const token = await new SignJWT({ purpose: PURPOSE, email })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(JWT_ISSUER)
      .setAudience(VERIFY_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + VERIFY_TTL_SECONDS)
      .sign(this.key);
    return `${this.publicUrl}/api/auth/verify?token=${token}`;
  }

  /** The user and address a link token names, or null for any token that is not a live link of ours. */
  check(token: string): Verified | null {
    const rules = {
      issuer: JWT_ISSUER,
      audience: VERIFY_AUDIENCE,
      maxAgeSeconds: VERIFY_TTL_SECONDS,
      skewSeconds: 30,
    };
    const c = verifyHs256(token, this.key, rules, Math.floor(Date.now() / 1000));
    if (typeof c === 'string' || c.purpose !== PURPOSE || typeof c.email !== 'string') return null;
    return { userId: c.sub, email: c.email };
  }
}

/** Sends the link; without SMTP_URL (`npm start` on a laptop) it is logged at warn level instead. */
export interface Mailer {
  sendVerification(to: string, link: string): Promise<void>;
  close(): void;
}

export function createMailer(o: { smtpUrl: string | null; from: string }, log: Logger): Mailer {
  if (!o.smtpUrl) {
    return {
      async sendVerification(to, link) {
        log.warn({ to, link }, 'no SMTP_URL: email verification link logged instead of mailed');
      },
      close() {},
    };
  }
  // Bounded, so a mail server that hangs costs a registration seconds, not nodemailer's default minutes.
  const transport = createTransport(
    { url: o.smtpUrl, connectionTimeout: 5000, greetingTimeout: 5000, socketTimeout: 10_000 },
    { from: o.from },
  );
  return {
    async sendVerification(to, link) {
      await transport.sendMail({
        to,
        subject: 'Verify your email address for Stampede',
        text: `Follow this link to verify your address and start buying:\n\n${link}\n\nIt works for 24 hours. If you did not create an account, ignore this mail.\n`,
      });
    },
    close: () => transport.close(),
  };
}

/** Mails links, and marks an account verified when one comes back (`users.email_verified`). */
export class EmailVerification {
  constructor(
    private readonly db: Sequelize,
    private readonly links: VerificationLinks,
    private readonly mailer: Mailer,
    private readonly log: Logger,
  ) {}

  /** Never throws: a mail server that is down must not fail the registration (the shopper can resend). */
  async send(userId: string, email: string): Promise<void> {
    try {
      await this.mailer.sendVerification(email, await this.links.link(userId, email));
    } catch (err) {
      this.log.error({ err, userId }, 'verification mail not sent');
    }
  }

  /** True once the account the link names, still at the address it was mailed to, is verified. */
  async verify(token: string): Promise<boolean> {
    const v = this.links.check(token);
    if (!v) return false;
    const rows = await this.db.query<{ id: string }>(
      `UPDATE users SET email_verified = true, updated_at = now()
       WHERE id = $1 AND lower(email) = lower($2) RETURNING id`,
      { bind: [v.userId, v.email], type: QueryTypes.SELECT },
    );
    return rows.length === 1;
  }

  /** A fresh link for a signed-in shopper; `verified` if there is nothing left to verify. */
  async resend(userId: string): Promise<'sent' | 'verified'> {
    const [u] = await this.db.query<{ email: string; email_verified: boolean }>(
      'SELECT email, email_verified FROM users WHERE id = $1',
      { bind: [userId], type: QueryTypes.SELECT },
    );
    if (!u) throw new AppError(ErrorCode.NOT_FOUND, 'no such account');
    if (u.email_verified) return 'verified';
    await this.send(userId, u.email);
    return 'sent';
  }
}
