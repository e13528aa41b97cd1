import type { Request, RequestHandler } from 'express';
import type { Principal, TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode } from '../core/errors.js';
import type { RateLimiter } from '../core/rate-limit.js';

const principals = new WeakMap<Request, Principal>();

/** The caller, verified: a valid access token or 401. */
export function authenticate(tokens: TokenService): RequestHandler {
  return async (req, _res, next) => {
    principals.set(req, await tokens.verifyHeader(req.headers.authorization));
    next();
  };
}

export function principal(req: Request): Principal {
  const p = principals.get(req);
  if (!p) throw new AppError(ErrorCode.UNAUTHORIZED);
  return p;
}

export const requireAdmin: RequestHandler = (req, _res, next) => {
  if (principal(req).role !== 'admin') throw new AppError(ErrorCode.FORBIDDEN, 'administrators only');
  next();
};

/** Per client IP (after TRUST_PROXY_HOPS), for the doors brute force knocks on. */
export function limitPerIp(limiter: RateLimiter): RequestHandler {
  return (req, _res, next) => {
    const wait = limiter.take(req.ip ?? '');
    if (wait) throw new AppError(ErrorCode.RATE_LIMITED, 'too many attempts', { retryAfter: wait });
    next();
  };
}
