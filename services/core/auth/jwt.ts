import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { AppError, ErrorCode } from '../errors.js';

/**
 * Access tokens (DESIGN §4): HS256 only, fixed issuer and audience, `exp` required. Verification is local:
 * no network call per request. The algorithm is pinned so `alg: none` or an RS/HS confusion is refused.
 */
export const JWT_ALG = 'HS256';
export const JWT_ISSUER = 'stampede';
export const JWT_AUDIENCE = 'stampede';
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

export type Role = 'user' | 'admin';
export interface Principal {
  userId: string;
  role: Role;
}

export class TokenService {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(p: Principal, ttlSeconds = ACCESS_TOKEN_TTL_SECONDS): Promise<string> {
    return new SignJWT({ role: p.role })
      .setProtectedHeader({ alg: JWT_ALG, typ: 'JWT' })
      .setSubject(p.userId)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + Math.min(ttlSeconds, ACCESS_TOKEN_TTL_SECONDS))
      .sign(this.key);
  }

  /** Verifies a bearer `Authorization` header value; any failure is 401 UNAUTHORIZED. */
  async verifyHeader(header: string | undefined): Promise<Principal> {
    const m = header ? /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(header) : null;
    if (!m) throw new AppError(ErrorCode.UNAUTHORIZED, 'a Bearer access token is required');
    try {
      const { payload } = await jwtVerify(m[1] as string, this.key, {
        algorithms: [JWT_ALG],
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        requiredClaims: ['exp', 'sub'],
        maxTokenAge: ACCESS_TOKEN_TTL_SECONDS + 60,
      });
      const sub = payload.sub ?? '';
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(sub)) throw new Error('bad subject');
      return { userId: sub, role: payload.role === 'admin' ? 'admin' : 'user' };
    } catch (err) {
      const detail = err instanceof joseErrors.JWTExpired ? 'the access token has expired' : 'invalid access token';
      throw new AppError(ErrorCode.UNAUTHORIZED, detail);
    }
  }
}
