import { createHash, randomBytes } from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import { ACCESS_TOKEN_TTL_SECONDS, type Role, type TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode } from '../core/errors.js';
import { hashPassword, verifyPassword } from './passwords.js';

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A cluster-wide limit on one refresh-token family: a RATE_LIMITED error, or null (api/service.ts). */
export type FamilyLimit = (familyId: string) => Promise<AppError | null>;

/** Issue 20 point 13: the admin's address nobody may register, and what follows a registration. */
export interface AccountHooks {
  /** ADMIN_EMAIL: reserved for the configured admin (whoever registered it first used to stop every replica). */
  reservedEmail?: string | null;
  /** Mails the verification link (EmailVerification.send, which never throws). */
  onRegistered?: (userId: string, email: string) => Promise<void>;
}

export class AuthService {
  constructor(
    private readonly db: Sequelize,
    private readonly tokens: TokenService,
    readonly refreshTtlSeconds: number,
    private readonly familyLimit: FamilyLimit = async () => null,
    private readonly accounts: AccountHooks = {},
  ) {}

  async register(
    email: string,
    password: string,
    role: Role = 'user',
  ): Promise<{ id: string; email: string }> {
    const reserved = this.accounts.reservedEmail;
    // Answered like a taken address: it is one (the admin's), whether or not the admin row exists yet.
    if (reserved && reserved.toLowerCase() === email.toLowerCase())
      throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email exists');
    const id = uuidv7();
    const hash = await hashPassword(password);
    const [row] = await this.db.query<{ id: string }>(
      `INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)
       ON CONFLICT ((lower(email))) DO NOTHING RETURNING id`,
      { bind: [id, email, hash, role], type: QueryTypes.SELECT },
    );
    if (!row) throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email exists');
    await this.accounts.onRegistered?.(id, email);
    return { id, email };
  }

  /**
   * Creates or updates the configured admin (ADMIN_EMAIL/ADMIN_PASSWORD) at start; the admin's address is
   * verified by configuration. An existing account that is not an admin is never promoted (whoever
   * registered that address first would get the keys): false, and the caller logs the clash. It is never
   * fatal (it used to stop every replica, so one registration took the whole api down).
   */
  async ensureAdmin(email: string, password: string): Promise<boolean> {
    const hash = await hashPassword(password);
    const [row] = await this.db.query<{ id: string }>(
      `INSERT INTO users (id, email, password_hash, role, email_verified) VALUES ($1, $2, $3, 'admin', true)
       ON CONFLICT ((lower(email))) DO UPDATE SET password_hash = EXCLUDED.password_hash, email_verified = true,
         updated_at = now()
       WHERE users.role = 'admin'
       RETURNING id`,
      { bind: [uuidv7(), email, hash], type: QueryTypes.SELECT },
    );
    return row !== undefined;
  }

  async login(email: string, password: string): Promise<Session> {
    const [user] = await this.db.query<{
      id: string;
      role: Role;
      password_hash: string;
      email_verified: boolean;
    }>('SELECT id, role, password_hash, email_verified FROM users WHERE lower(email) = lower($1)', {
      bind: [email],
      type: QueryTypes.SELECT,
    });
    const ok = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !ok) throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'wrong email or password');
    return this.issue(user.id, user.role, user.email_verified, uuidv7());
  }

  /**
   * Rotates a refresh token: the presented one is spent and a new one of the same family returned. A token
   * presented a second time means it was stolen (or the client raced itself): the whole family is revoked.
   */
  async refresh(refreshToken: string): Promise<Session> {
    const hash = sha256(refreshToken);
    const spent = await this.db.transaction(async (transaction) => {
      const [t] = await this.db.query<{
        id: string;
        user_id: string;
        family_id: string;
        role: Role;
        email_verified: boolean;
        used: boolean;
        revoked: boolean;
        expired: boolean;
      }>(
        `SELECT t.id, t.user_id, t.family_id, u.role, u.email_verified, t.used_at IS NOT NULL AS used, t.revoked_at IS NOT NULL AS revoked,
                t.expires_at <= now() AS expired
         FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 FOR UPDATE OF t`,
        { bind: [hash], type: QueryTypes.SELECT, transaction },
      );
      if (!t) return null;
      if (t.used || t.revoked) {
        await this.db.query(
          'UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = $1',
          {
            bind: [t.family_id],
            transaction,
          },
        );
        return null;
      }
      if (t.expired) return null;
      // After the reuse check (a stolen token still revokes its family), before the token is spent: a
      // refused refresh rolls back and the same token works once the family's limit has room again.
      const refused = await this.familyLimit(t.family_id);
      if (refused) throw refused;
      await this.db.query('UPDATE refresh_tokens SET used_at = now() WHERE id = $1', {
        bind: [t.id],
        transaction,
      });
      return t;
    });
    if (!spent) throw new AppError(ErrorCode.UNAUTHORIZED, 'the refresh token is not valid');
    return this.issue(spent.user_id, spent.role, spent.email_verified, spent.family_id);
  }

  /** Revokes the family of a refresh token (logout); an unknown token changes nothing. */
  async revoke(refreshToken: string): Promise<void> {
    await this.db.query(
      `UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
       WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)`,
      { bind: [sha256(refreshToken)] },
    );
  }

  private async issue(
    userId: string,
    role: Role,
    emailVerified: boolean,
    familyId: string,
  ): Promise<Session> {
    const refreshToken = randomBytes(32).toString('base64url');
    await this.db.query(
      `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      { bind: [uuidv7(), userId, familyId, sha256(refreshToken), this.refreshTtlSeconds] },
    );
    return {
      accessToken: await this.tokens.sign({ userId, role, emailVerified }),
      refreshToken,
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    };
  }
}
