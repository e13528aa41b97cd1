import type { Server } from 'node:http';
import { listen, portOf } from '../../services/core/http/server.js';
import { loadApiConfig } from '../../services/api/config.js';
import { buildApi, type Api } from '../../services/api/service.js';
import { call } from './seckill.js';
import { quietLog } from './env.js';
import { startMailbox, type Mailbox } from './smtp.js';

export interface RunningApi {
  url: string;
  api: Api;
  server: Server;
  /** The real SMTP server this api mails to (SMTP_URL), unless the caller passed its own SMTP_URL. */
  mailbox: Mailbox | null;
  stop(): Promise<void>;
}

/** Each api's mailbox by its URL, so `newUser(url)` can follow the verification link mailed to its user. */
const mailboxes = new Map<string, Mailbox>();

export const ADMIN = { email: 'admin@stampede.test', password: 'admin-password-0123' };

export async function startApi(
  prefix: string,
  schema: string,
  env: Record<string, string> = {},
): Promise<RunningApi> {
  const mailbox = env.SMTP_URL ? null : await startMailbox();
  const config = loadApiConfig({
    ...process.env,
    ...(mailbox ? { SMTP_URL: mailbox.url } : {}),
    API_AUTH_RATE_PER_MINUTE: '0',
    API_REFRESH_RATE_PER_MINUTE: '0',
    API_REFRESH_FAMILY_RATE_PER_MINUTE: '0',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ...env,
    STAMPEDE_PREFIX: prefix,
    DATABASE_SCHEMA: schema,
    PORT: '0',
  });
  const api = buildApi(config, quietLog);
  await api.start();
  const server = await listen(api.app, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${portOf(server)}`;
  if (mailbox) mailboxes.set(url, mailbox);
  return {
    url,
    api,
    server,
    mailbox,
    async stop() {
      mailboxes.delete(url);
      await mailbox?.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of api.closers) await c.close().catch(() => undefined);
    },
  };
}

let n = 0;
/**
 * Follows the verification link mailed to `email` by the api at `url` (as the shopper's browser would);
 * the link names PUBLIC_URL, so only its path and query are taken, against the api's real port.
 */
export async function verifyEmail(url: string, email: string): Promise<void> {
  const mailbox = mailboxes.get(url);
  if (!mailbox) throw new Error(`no mailbox for the api at ${url} (started with its own SMTP_URL?)`);
  const link = new URL(await mailbox.linkFor(email));
  const r = await fetch(`${url}${link.pathname}${link.search}`, { redirect: 'manual' });
  if (r.status !== 303 || r.headers.get('location') !== '/#/verified')
    throw new Error(`verification of ${email} failed: ${r.status} ${r.headers.get('location')}`);
}

/**
 * Registers a fresh user, verifies the email through the mailed link (unless `verified: false`) and logs
 * in; returns the session and the user's id.
 */
export async function newUser(
  url: string,
  o: { verified?: boolean } = {},
): Promise<{ id: string; email: string; accessToken: string; refreshToken: string }> {
  const email = `user${process.pid}-${++n}-${Date.now()}@stampede.test`;
  const password = 'a-long-enough-passphrase';
  const reg = await call(url, '/api/auth/register', { body: { email, password } });
  if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
  if (o.verified ?? true) await verifyEmail(url, email);
  const login = await call(url, '/api/auth/login', { body: { email, password } });
  return {
    id: String(reg.body.id),
    email,
    accessToken: String(login.body.accessToken),
    refreshToken: String(login.body.refreshToken),
  };
}

export async function adminToken(url: string): Promise<string> {
  const r = await call(url, '/api/auth/login', { body: ADMIN });
  return String(r.body.accessToken);
}
