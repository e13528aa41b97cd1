import { Router } from 'express';
import { z } from 'zod';
import type { AuthService } from '../auth.js';
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
const loginBody = z.object({ email: z.string().max(254), password: z.string().max(128) }).strict();
const refreshBody = z.object({ refreshToken: z.string().min(1).max(256) }).strict();

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
    res.json(await auth.login(body.email.trim(), body.password));
  });
  r.post('/refresh', limitPerIp(refreshLimiter), async (req, res) => {
    res.json(await auth.refresh(parse(refreshBody, req.body).refreshToken));
  });
  return r;
}
