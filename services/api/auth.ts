import { createHash, randomBytes } from 'node:crypto';
import { QueryTypes, type Sequelize } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import { ACCESS_TOKEN_TTL_SECONDS, type Role, type TokenService } from '../core/auth/jwt.js';
import { ConfigError } from '../core/config.js';
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

export class AuthService {
  constructor(
    private readonly db: Sequelize,
    private readonly tokens: TokenService,
    readonly refreshTtlSeconds: number,
    private readonly familyLimit: FamilyLimit = async () => null,
  ) {}

  async register(
    email: string,
    password: string,
    role: Role = 'user',
  ): Promise<{ id: string; email: string }> {
    const id = uuidv7();
    const hash = await hashPassword(password);
    const [row] = await this.db.query<{ id: string }>(
      `INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)
       ON CONFLICT ((lower(email))) DO NOTHING RETURNING id`,
      { bind: [id, email, hash, role], type: QueryTypes.SELECT },
    );
    if (!row) throw new AppError(ErrorCode.EMAIL_TAKEN, 'an account with this email exists');
    return { id, email };
  }

  /**
   * Creates or updates the configured admin (ADMIN_EMAIL/ADMIN_PASSWORD) at start. An existing account
   * that is not an admin is never promoted (whoever registered that address first would get the keys):
   * the API refuses to start and says why.
   */
  async ensureAdmin(email: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    const [row] = await this.db.query<{ id: string }>(
      `INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, 'admin')
       ON CONFLICT ((lower(email))) DO UPDATE SET password_hash = EXCLUDED.password_hash, updated_at = now()
       WHERE users.role = 'admin'
       RETURNING id`,
      { bind: [uuidv7(), email, hash], type: QueryTypes.SELECT },
    );
    if (!row) {
      throw new ConfigError([
        `ADMIN_EMAIL=${email}: an account with this email exists and is not an admin; it is not promoted. ` +
          'Choose another ADMIN_EMAIL, or grant the role in the database on purpose.',
      ]);
    }
  }

  async login(email: string, password: string): Promise<Session> {
    const [user] = await this.db.query<{ id: string; role: Role; password_hash: string }>(
      'SELECT id, role, password_hash FROM users WHERE lower(email) = lower($1)',
      { bind: [email], type: QueryTypes.SELECT },
    );
    const ok = await verifyPassword(user?.password_hash ?? null, password);
    if (!user || !ok) throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'wrong email or password');
    return this.issue(user.id, user.role, uuidv7());
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
        used: boolean;
        revoked: boolean;
        expired: boolean;
      }>(
        `SELECT t.id, t.user_id, t.family_id, u.role, t.used_at IS NOT NULL AS used, t.revoked_at IS NOT NULL AS revoked,
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
    return this.issue(spent.user_id, spent.role, spent.family_id);
  }

  /** Revokes the family of a refresh token (logout); an unknown token changes nothing. */
  async revoke(refreshToken: string): Promise<void> {
    await this.db.query(
      `UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now())
       WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)`,
      { bind: [sha256(refreshToken)] },
    );
  }

  private async issue(userId: string, role: Role, familyId: string): Promise<Session> {
    const refreshToken = randomBytes(32).toString('base64url');
    await this.db.query(
      `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      { bind: [uuidv7(), userId, familyId, sha256(refreshToken), this.refreshTtlSeconds] },
    );
    return {
      accessToken: await this.tokens.sign({ userId, role }),
      refreshToken,
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    };
  }
}
