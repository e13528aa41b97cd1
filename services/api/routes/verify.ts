import { Router } from 'express';
import { z } from 'zod';
import type { TokenService } from '../../core/auth/jwt.js';
import { AppError, ErrorCode } from '../../core/errors.js';
import type { ClusterLimiter } from '../../core/rate-limit.js';
import { authenticate, limitPerIp, principal } from '../guard.js';
import { parse } from '../validate.js';
import type { EmailVerification } from '../verification.js';

const token = z
  .string()
  .max(2048)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'a verification link token');
const linkQuery = z.object({ token }).strict();
const verifyBody = z.object({ token }).strict();
const noBody = z.union([z.undefined(), z.object({}).strict()]);

/**
 * `GET /api/auth/verify?token=…` is the mailed link: it verifies and sends the browser to the storefront,
 * which says how it went. `POST /api/auth/verify {token}` is the same for an API client. `POST
 * /api/auth/verify/resend` (signed in) mails a fresh link.
 */
export function verifyRoutes(
  verification: EmailVerification,
  tokens: TokenService,
  limiter: ClusterLimiter,
): Router {
  const r = Router();
  r.get('/verify', limitPerIp(limiter), async (req, res) => {
    const q = linkQuery.safeParse(req.query);
    const ok = q.success && (await verification.verify(q.data.token));
    res.redirect(303, ok ? '/#/verified' : '/#/verify-failed');
  });
  r.post('/verify', limitPerIp(limiter), async (req, res) => {
    if (!(await verification.verify(parse(verifyBody, req.body).token)))
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        'the link is not valid or has expired; ask for a new one',
      );
    res.json({ verified: true });
  });
  r.post('/verify/resend', limitPerIp(limiter), authenticate(tokens), async (req, res) => {
    parse(noBody, req.body);
    const status = await verification.resend(principal(req).userId);
    res.status(status === 'sent' ? 202 : 200).json({ status });
  });
  return r;
}
