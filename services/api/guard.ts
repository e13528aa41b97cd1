import type { Request, RequestHandler } from 'express';
import type { Principal, TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode } from '../core/errors.js';
import type { ClusterLimiter } from '../core/rate-limit.js';

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

/** Per client IP (after TRUST_PROXY_HOPS), cluster-wide, for the doors brute force knocks on. */
export function limitPerIp(limiter: ClusterLimiter): RequestHandler {
  return async (req, _res, next) => {
    const ip = req.ip ?? '';
    const refused = limiter.screen([ip]) ?? (await limiter.take([ip]));
    if (refused)
      throw new AppError(ErrorCode.RATE_LIMITED, 'too many attempts', { retryAfter: refused.retryAfter });
    next();
  };
}
