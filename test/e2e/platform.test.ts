// The whole platform as `npm start` runs it (separate, supervised processes), from register to a paid
// order; a killed service is restarted; Ctrl-C (SIGINT) stops everything cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import pg from 'pg';
import {
  DATABASE_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  randomPrefix,
  waitFor,
} from '../helpers/env.js';
import { call } from '../helpers/seckill.js';

const START = new URL('../../scripts/start.mjs', import.meta.url).pathname;
const ADMIN = { email: 'root@stampede.test', password: 'root-password-0123' };

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('npm start', () => {
  const prefix = randomPrefix('e2e');
  const schema = `e2e_${process.pid}_${Date.now()}`;
  let redis: Redis;
  let platform: ChildProcess;
  let out = '';
  let ports: { api: number; seckill: number; orders: number };
  let exited: Promise<number | null>;

  beforeAll(async () => {
    redis = newRedis();
    ports = { api: await freePort(), seckill: await freePort(), orders: await freePort() };
    platform = spawn(process.execPath, [START], {
      env: {
        ...process.env,
        API_PORT: String(ports.api),
        SECKILL_PORT: String(ports.seckill),
        ORDERS_PORT: String(ports.orders),
        STAMPEDE_PREFIX: prefix,
        DATABASE_SCHEMA: schema,
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        LOG_LEVEL: 'warn',
        ORDERS_SWEEP_INTERVAL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    platform.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    platform.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    exited = new Promise((r) => platform.on('exit', (code) => r(code)));
    for (const port of Object.values(ports)) {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
        `port ${port} ready`,
        30_000,
      );
    }
  });
  afterAll(async () => {
    if (platform.exitCode === null) platform.kill('SIGKILL');
    await dropAmqpPrefix(prefix);
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('prints the URLs, and takes a shopper from register to a paid order', async () => {
    expect(out).toMatch(new RegExp(`api\\s+http://127.0.0.1:${ports.api}`));
    expect(out).toMatch(new RegExp(`seckill\\s+http://127.0.0.1:${ports.seckill}`));
    const api = `http://127.0.0.1:${ports.api}`;
    const seckill = `http://127.0.0.1:${ports.seckill}`;
    const admin = String((await call(api, '/api/auth/login', { body: ADMIN })).body.accessToken);
    const now = Date.now();
    const put = await call(api, '/api/admin/activities/e2e-sale', {
      method: 'PUT',
      token: admin,
      body: {
        product: { sku: 'E2E-1', name: 'End to end', price: '19.90' },
        stock: 3,
        window: { start: new Date(now - 1000).toISOString(), end: new Date(now + 600_000).toISOString() },
        paymentWindow: '10m',
      },
    });
    expect(put.status).toBe(201);

    const email = `shopper-${Date.now()}@stampede.test`;
    expect(
      (await call(api, '/api/auth/register', { body: { email, password: 'a-long-enough-passphrase' } }))
        .status,
    ).toBe(201);
    const token = String(
      (await call(api, '/api/auth/login', { body: { email, password: 'a-long-enough-passphrase' } })).body
        .accessToken,
    );
    const bought = await call(seckill, '/seckill/e2e-sale', { token, body: {} });
    expect(bought.status).toBe(202);
    const orderId = String(bought.body.orderId);
    await waitFor(
      async () => (await call(api, `/api/orders/${orderId}`, { token })).status === 200,
      'the order in the API',
    );
    expect((await call(api, `/api/orders/${orderId}/pay`, { method: 'POST', token })).body).toEqual({
      status: 'paid',
    });
    expect((await call(seckill, '/seckill/e2e-sale/result', { token })).body).toEqual({
      orderId,
      status: 'paid',
    });
    expect((await call(api, '/api/activities/e2e-sale')).body).toMatchObject({
      stock: { total: 3, remaining: 2, sold: 1 },
    });
  });

  it('restarts a service that dies, and stops everything on SIGINT', async () => {
    const pid = Number(/seckill started \(pid (\d+)\)/.exec(out)?.[1]);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => /seckill exited \(SIGKILL\); restarting/.test(out), 'the supervisor to notice');
    await waitFor(
      async () => {
        const m = [...out.matchAll(/seckill started \(pid (\d+)\)/g)];
        return (
          m.length === 2 &&
          (await fetch(`http://127.0.0.1:${ports.seckill}/readyz`).then(
            (r) => r.ok,
            () => false,
          ))
        );
      },
      'seckill back',
      30_000,
    );
    platform.kill('SIGINT');
    expect(await exited).toBe(0);
    for (const port of Object.values(ports)) {
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    }
  });
});
