import type { Request, Response } from 'express';

/**
 * The storefront's refresh token (issue 20 point 11): an HttpOnly cookie no script can read, sent only to
 * the refresh route (`Path=/api/auth/refresh`, which also covers `DELETE` there to log out) and never on a
 * cross-site request (`SameSite=Strict`). `Secure` unless the request is plain http to a loopback host
 * (`npm start` on http://127.0.0.1): a Secure cookie set over http is dropped by every browser but
 * Chromium-on-localhost, and loopback traffic does not leave the machine.
 */
export const REFRESH_COOKIE = 'stampede_refresh';
export const REFRESH_COOKIE_PATH = '/api/auth/refresh';

const LOOPBACK = /^(localhost|[^.]+\.localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

function options(req: Request) {
  const loopbackHttp = req.protocol === 'http' && LOOPBACK.test(req.hostname);
  return {
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: !loopbackHttp,
    path: REFRESH_COOKIE_PATH,
  };
}

/** The cookie's token, when the request carries a well-formed one. */
export function readRefreshCookie(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === REFRESH_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return TOKEN.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export function setRefreshCookie(req: Request, res: Response, token: string, ttlSeconds: number): void {
  res.cookie(REFRESH_COOKIE, token, { ...options(req), maxAge: ttlSeconds * 1000 });
}

export function clearRefreshCookie(req: Request, res: Response): void {
  res.clearCookie(REFRESH_COOKIE, options(req));
}
