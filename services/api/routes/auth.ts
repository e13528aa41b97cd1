import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AuthService, Session } from '../auth.js';
import { AppError, ErrorCode } from '../../core/errors.js';
import { clearRefreshCookie, readRefreshCookie, setRefreshCookie } from '../refresh-cookie.js';
import { limitPerIp } from '../guard.js';
import { parse } from '../validate.js';
import type { ClusterLimiter } from '../../core/rate-limit.js';

const email = z.string().trim().toLowerCase().max(254).email();
// OWASP: length over composition rules; 12+ without MFA, long passphrases allowed, control characters not.
const password = z
  .string()
  .min(12, 'at least 12 characters')
  .max(128, 'at most 128 characters')
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'no control characters')
  .refine((p) => new Set(p).size >= 4, 'too repetitive');
const registerBody = z.object({ email, password }).strict();
// `session: "cookie"` (the storefront): the refresh token goes into the HttpOnly cookie, not the body.
const loginBody = z
  .object({
    email: z.string().max(254),
    password: z.string().max(128),
    session: z.literal('cookie').optional(),
  })
  .strict();
const refreshBody = z.object({ refreshToken: z.string().min(1).max(256) }).strict();
// A cookie refresh sends no body (or `{}`); a body token is the DESIGN §4 API client's way.
const cookieBody = z.union([z.undefined(), z.object({}).strict()]);

/** The session for a cookie client: the refresh token rides in the cookie only, out of any script's reach. */
function inCookie(req: Request, res: Response, s: Session, ttlSeconds: number) {
  setRefreshCookie(req, res, s.refreshToken, ttlSeconds);
  return { accessToken: s.accessToken, expiresIn: s.expiresIn };
}

/** `limiter`: login and register per IP; `refreshLimiter`: refresh per IP (its per-family limit is in AuthService). */
export function authRoutes(
  auth: AuthService,
  limiter: ClusterLimiter,
  refreshLimiter: ClusterLimiter,
): Router {
  const r = Router();
  r.post('/register', limitPerIp(limiter), async (req, res) => {
    const body = parse(registerBody, req.body);
    res.status(201).json(await auth.register(body.email, body.password));
  });
  r.post('/login', limitPerIp(limiter), async (req, res) => {
    const body = parse(loginBody, req.body);
    const s = await auth.login(body.email.trim(), body.password);
    res.json(body.session === 'cookie' ? inCookie(req, res, s, auth.refreshTtlSeconds) : s);
  });
  r.post('/refresh', limitPerIp(refreshLimiter), async (req, res) => {
    if (!cookieBody.safeParse(req.body).success) {
      res.json(await auth.refresh(parse(refreshBody, req.body).refreshToken));
      return;
    }
    const token = readRefreshCookie(req);
    if (!token) throw new AppError(ErrorCode.UNAUTHORIZED, 'no refresh token (cookie or body)');
    const s = await auth.refresh(token).catch((err: unknown) => {
      if (err instanceof AppError && err.code === ErrorCode.UNAUTHORIZED) clearRefreshCookie(req, res);
      throw err;
    });
    res.json(inCookie(req, res, s, auth.refreshTtlSeconds));
  });
  // Logging out: the cookie's whole family is revoked (a copy taken before is dead too) and the cookie cleared.
  r.delete('/refresh', limitPerIp(refreshLimiter), async (req, res) => {
    const token = readRefreshCookie(req);
    if (token) await auth.revoke(token);
    clearRefreshCookie(req, res);
    res.status(204).end();
  });
  return r;
}
