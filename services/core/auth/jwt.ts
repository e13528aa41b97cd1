import { createHash, createSecretKey, webcrypto } from 'node:crypto';
import { SignJWT } from 'jose';
import { AppError, ErrorCode } from '../errors.js';
import { verifyHs256, type Hs256Rules, type KeyFor } from './hs256.js';

/**
 * Access tokens (DESIGN §4): HS256 only, fixed issuer and audience, `exp` required. Issued with jose;
 * verified locally by hs256.ts (see there why):
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
  /** The `email_verified` claim: the account followed its verification link (issue 20 point 13). */
  emailVerified: boolean;
}

/**
 * Whom a token is signed for. `emailVerified` left out means a verified shopper: every signer but the api
 * (`stampede sale`, the bench, tests) mints synthetic shoppers, and holds JWT_SECRET anyway; the api always
 * states it from the users row.
 */
export type Subject = Omit<Principal, 'emailVerified'> & { emailVerified?: boolean };

export interface TokenServiceOptions {
  /** The seckill's: every route there buys, so an unverified token is refused 403 EMAIL_NOT_VERIFIED. */
  requireVerifiedEmail?: boolean;
}

const RULES: Hs256Rules = {
  issuer: JWT_ISSUER,
  audience: JWT_AUDIENCE,
  maxAgeSeconds: ACCESS_TOKEN_TTL_SECONDS,
  skewSeconds: 30,
};

// The refusals, built once: a flood of bad tokens costs no Error (and no stack) per request.
const BEARER_REQUIRED = new AppError(ErrorCode.UNAUTHORIZED, 'a Bearer access token is required');
const EXPIRED = new AppError(ErrorCode.UNAUTHORIZED, 'the access token has expired');
const INVALID = new AppError(ErrorCode.UNAUTHORIZED, 'invalid access token');
const NOT_VERIFIED = new AppError(
  ErrorCode.EMAIL_NOT_VERIFIED,
  'verify your email address first: follow the link mailed to you at registration',
);

/** The longest bearer token looked at: a header can be far larger than any token we issue. */
const MAX_TOKEN_LENGTH = 4096;

/** Verified tokens, so a shopper retrying during a sale costs one signature check, not one per request. */
const VERIFIED_CACHE_MAX = 100_000;

/**
 * A key's id: a hash of the secret (it reveals nothing of a secret of 32+ characters), so every process
 * configured with the same secret names it alike without another setting.
 */
export const keyId = (secret: string): string =>
  createHash('sha256').update(`stampede-jwt-kid:${secret}`).digest('base64url').slice(0, 16);

export class TokenService {
  // Imported once for signing: handing jose raw bytes would re-import the key on every call.
  private readonly key: Promise<webcrypto.CryptoKey>;
  private readonly kid: string;
  private readonly keyFor: KeyFor;
  private verified = new Map<string, { principal: Principal; expMs: number }>();

  /**
   * Tokens are signed with `secret` and carry its `kid`. `previous` (JWT_SECRET_PREVIOUS) is the secret
   * before a rotation: tokens naming its kid still verify, so a rotation logs nobody out; drop it once
   * one token lifetime (15 min) has passed. A token without a kid (issued before kids) is checked against
   * the current secret only.
   */
  private readonly requireVerified: boolean;

  constructor(secret: string, previous?: string, options: TokenServiceOptions = {}) {
    this.requireVerified = options.requireVerifiedEmail ?? false;
    const current = createSecretKey(Buffer.from(secret, 'utf8'));
    this.kid = keyId(secret);
    const prevKid = previous ? keyId(previous) : null;
    const prevKey = previous ? createSecretKey(Buffer.from(previous, 'utf8')) : null;
    const kid = this.kid;
    this.keyFor = (k) => (k === kid || k === undefined ? current : k === prevKid ? prevKey : null);
    this.key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
  }

  async sign(p: Subject, ttlSeconds = ACCESS_TOKEN_TTL_SECONDS): Promise<string> {
    return new SignJWT({ role: p.role, email_verified: p.emailVerified ?? true })
      .setProtectedHeader({ alg: JWT_ALG, typ: 'JWT', kid: this.kid })
      .setSubject(p.userId)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + Math.min(ttlSeconds, ACCESS_TOKEN_TTL_SECONDS))
      .sign(await this.key);
  }

  /** Verifies a bearer `Authorization` header value; any failure is 401 UNAUTHORIZED. */
  verifyHeader(header: string | undefined): Promise<Principal> {
    const r = this.verifyHeaderNow(header);
    return r instanceof AppError ? Promise.reject(r) : Promise.resolve(r);
  }

  /**
   * verifyHeader without a promise: the principal, or the error verifyHeader would reject with. For the
   * hot path's answers from memory (a sold-out sale answers a shopper seen for the first time without
   * a promise or a throw: the common case right after a sale sells out).
   */
  verifyHeaderNow(header: string | undefined): Principal | AppError {
    if (header === undefined || !header.startsWith('Bearer ')) return BEARER_REQUIRED;
    const token = header.slice(7);
    // verifyHs256 checks the token's three segments character by character: only the size is bounded here.
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return BEARER_REQUIRED;
    return this.cached(token) ?? this.verify(token);
  }

  /** The principal of a token verified before and not yet expired, without any crypto; else undefined. */
  private cached(token: string): Principal | undefined {
    const hit = this.verified.get(token);
    return hit && hit.expMs > Date.now() ? hit.principal : undefined;
  }

  private verify(token: string): Principal | AppError {
    const claims = verifyHs256(token, this.keyFor, RULES, Math.floor(Date.now() / 1000));
    if (typeof claims === 'string') return claims === 'expired' ? EXPIRED : INVALID;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(claims.sub)) return INVALID;
    // A token without the claim (issued before it existed) counts as unverified.
    const emailVerified = claims.email_verified === true;
    if (this.requireVerified && !emailVerified) return NOT_VERIFIED;
    const role = claims.role === 'admin' ? 'admin' : 'user';
    const principal: Principal = { userId: claims.sub, role, emailVerified };
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified = new Map();
    this.verified.set(token, { principal, expMs: claims.exp * 1000 });
    return principal;
  }
}
