import type { Server } from 'node:http';
import { listen, portOf } from '../../services/core/http/server.js';
import { loadApiConfig } from '../../services/api/config.js';
import { buildApi, type Api } from '../../services/api/service.js';
import { call } from './seckill.js';
import { quietLog } from './env.js';

export interface RunningApi {
  url: string;
  api: Api;
  server: Server;
  stop(): Promise<void>;
}

export const ADMIN = { email: 'admin@stampede.test', password: 'admin-password-0123' };

export async function startApi(
  prefix: string,
  schema: string,
  env: Record<string, string> = {},
): Promise<RunningApi> {
  const config = loadApiConfig({
    ...process.env,
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
  return {
    url: `http://127.0.0.1:${portOf(server)}`,
    api,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of api.closers) await c.close().catch(() => undefined);
    },
  };
}

let n = 0;
/** Registers a fresh user and logs in; returns the session and the user's id. */
export async function newUser(
  url: string,
): Promise<{ id: string; email: string; accessToken: string; refreshToken: string }> {
  const email = `user${process.pid}-${++n}-${Date.now()}@stampede.test`;
  const password = 'a-long-enough-passphrase';
  const reg = await call(url, '/api/auth/register', { body: { email, password } });
  if (reg.status !== 201) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
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
