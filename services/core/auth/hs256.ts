import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * HS256 JWT verification with node:crypto, synchronously. jose (which issues our tokens) verifies through
 * WebCrypto, whose per-call job and promise cost about 14% of the purchase path's CPU; this verifier does
 * the same checks in a few microseconds. It accepts exactly one algorithm, refuses `crit`, and checks the
 * signature before reading any claim.
 */
export interface Hs256Rules {
  issuer: string;
  audience: string;
  /** Maximum age from `iat`, seconds. */
  maxAgeSeconds: number;
  /** Allowed clock skew for `iat` and `nbf`, seconds. */
  skewSeconds: number;
}

export type Claims = Record<string, unknown> & { sub: string; exp: number; iat: number };

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * An HMAC-SHA256 is 32 bytes: 43 base64url characters whose last one carries 4 bits and 2 unused ones.
 * Node's decoder ignores the unused bits, so four spellings would decode to one signature; only the
 * canonical one (unused bits zero) is accepted, checked by a table lookup before any HMAC is computed.
 */
const SIGNATURE_LENGTH = 43;
const CANONICAL_LAST = new Uint8Array(128);
for (const ch of 'AEIMQUYcgkosw048') CANONICAL_LAST[ch.charCodeAt(0)] = 1;

/** The key for a token's `kid` (undefined when the header has none), or null for a key we do not hold. */
export type KeyFor = (kid: unknown) => KeyObject | Buffer | null;

function decodeJson(segment: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Returns the verified claims, or a reason why the token is refused. */
export function verifyHs256(
  token: string,
  key: KeyObject | Buffer | KeyFor,
  rules: Hs256Rules,
  nowSeconds: number,
): Claims | string {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) return 'malformed token';
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  if (!header || header.alg !== 'HS256' || 'crit' in header) return 'algorithm not accepted';
  if (header.typ !== undefined && header.typ !== 'JWT') return 'bad token type';
  if (s.length !== SIGNATURE_LENGTH || CANONICAL_LAST[s.charCodeAt(SIGNATURE_LENGTH - 1)] !== 1)
    return 'bad signature';
  const k = typeof key === 'function' ? key(header.kid) : key;
  if (k === null) return 'unknown key';
  const expected = createHmac('sha256', k).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  const c = decodeJson(p);
  if (!c) return 'malformed claims';
  return checkClaims(c, rules, nowSeconds);
}

function checkClaims(c: Record<string, unknown>, r: Hs256Rules, now: number): Claims | string {
  if (c.iss !== r.issuer) return 'wrong issuer';
  const aud = c.aud;
  if (!(aud === r.audience || (Array.isArray(aud) && aud.includes(r.audience)))) return 'wrong audience';
  if (typeof c.sub !== 'string' || c.sub === '') return 'missing subject';
  // No leeway on expiry: a token is refused from its `exp` on (skew only forgives `iat` and `nbf`).
  if (typeof c.exp !== 'number' || c.exp <= now) return 'expired';
  if (typeof c.iat !== 'number' || c.iat > now + r.skewSeconds) return 'bad issued-at';
  if (now - c.iat > r.maxAgeSeconds + r.skewSeconds) return 'too old';
  if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf > now + r.skewSeconds))
    return 'not yet valid';
  return c as Claims;
}
