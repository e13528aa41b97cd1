// The business API against real Postgres and Redis (own schema and prefix): auth, catalogue, admin.
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { loadApiConfig } from '../../services/api/config.js';
import { buildApi } from '../../services/api/service.js';
import { listen, portOf } from '../../services/core/http/server.js';
import { dropRedisPrefix, newRedis, quietLog, randomPrefix } from '../helpers/env.js';
import { ADMIN, adminToken, newUser, startApi, type RunningApi } from '../helpers/api.js';
import { call, type Answer } from '../helpers/seckill.js';

const prefix = randomPrefix('api');
let pg: TestSchema;
let redis: Redis;
let api: RunningApi;

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
  api = await startApi(prefix, pg.schema);
});
afterAll(async () => {
  await api.stop();
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pg.drop();
});

function expectProblem(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

const spec = (over: Record<string, unknown> = {}) => ({
  product: {
    sku: `SKU-${Date.now()}-${Math.random()}`,
    name: 'Phone',
    originalPrice: '7999.00',
    price: '4999.00',
  },
  stock: 10,
  window: {
    start: new Date(Date.now() - 60_000).toISOString(),
    end: new Date(Date.now() + 3_600_000).toISOString(),
  },
  paymentWindow: '15m',
  ...over,
});

describe('auth', () => {
  it('registers, refuses a taken email whatever its case, and logs in', async () => {
    const email = `Reg-${Date.now()}@Stampede.test`;
    const r = await call(api.url, '/api/auth/register', {
      body: { email, password: 'correct horse battery' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: expect.any(String), email: email.toLowerCase() });
    expectProblem(
      await call(api.url, '/api/auth/register', {
        body: { email: email.toUpperCase(), password: 'another passphrase!' },
      }),
      409,
      'EMAIL_TAKEN',
    );
    const login = await call(api.url, '/api/auth/login', {
      body: { email, password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
    });
  });

  it.each([
    ['a short password', { email: 'a@b.test', password: 'short' }],
    ['a repetitive password', { email: 'a@b.test', password: 'aaaaaaaaaaaaaaa' }],
    ['a malformed email', { email: 'not-an-email', password: 'correct horse battery' }],
    ['a role (mass assignment)', { email: 'c@d.test', password: 'correct horse battery', role: 'admin' }],
    ['a number for the email', { email: 42, password: 'correct horse battery' }],
  ])('refuses %s with 400 VALIDATION_FAILED', async (_what, body) => {
    const r = await call(api.url, '/api/auth/register', { body });
    expectProblem(r, 400, 'VALIDATION_FAILED');
    expect(r.body.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: expect.any(String), message: expect.any(String) }),
      ]),
    );
  });

  it('answers 401 INVALID_CREDENTIALS alike for a wrong password and an unknown email', async () => {
    const u = await newUser(api.url);
    expectProblem(
      await call(api.url, '/api/auth/login', { body: { email: u.email, password: 'wrong password!!' } }),
      401,
      'INVALID_CREDENTIALS',
    );
    expectProblem(
      await call(api.url, '/api/auth/login', {
        body: { email: `nobody-${Date.now()}@x.test`, password: 'wrong password!!' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
  });

  it('rotates refresh tokens; a reused one revokes its whole family', async () => {
    const u = await newUser(api.url);
    const first = await call(api.url, '/api/auth/refresh', { body: { refreshToken: u.refreshToken } });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(u.refreshToken);
    // The stolen old token comes back: refused, and the legitimate new one dies with its family.
    expectProblem(
      await call(api.url, '/api/auth/refresh', { body: { refreshToken: u.refreshToken } }),
      401,
      'UNAUTHORIZED',
    );
    expectProblem(
      await call(api.url, '/api/auth/refresh', { body: { refreshToken: first.body.refreshToken } }),
      401,
      'UNAUTHORIZED',
    );
    expectProblem(
      await call(api.url, '/api/auth/refresh', { body: { refreshToken: 'made-up' } }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('limits login and register per client IP', async () => {
    const limited = await startApi(prefix, pg.schema, { API_AUTH_RATE_PER_MINUTE: '3' });
    try {
      const answers: Answer[] = [];
      for (let i = 0; i < 5; i++)
        answers.push(
          await call(limited.url, '/api/auth/login', {
            body: { email: 'x@y.test', password: 'whatever-1234' },
          }),
        );
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused[0]?.body.code).toBe('RATE_LIMITED');
    } finally {
      await limited.stop();
    }
  });

  it('reserves the ADMIN_EMAIL address before the admin exists: registering it, in any case, is refused', async () => {
    const reserved = `later-admin-${Date.now()}@stampede.test`;
    const config = loadApiConfig({
      ...process.env,
      ADMIN_EMAIL: reserved,
      ADMIN_PASSWORD: 'later-admin-password-0123',
      API_AUTH_RATE_PER_MINUTE: '0',
      SMTP_URL: 'smtp://127.0.0.1:9',
      STAMPEDE_PREFIX: prefix,
      DATABASE_SCHEMA: pg.schema,
    });
    // Not started: the admin row does not exist yet (a replica about to start, or one that lost the race).
    const replica = buildApi(config, quietLog);
    const server = await listen(replica.app, 0, '127.0.0.1');
    try {
      const url = `http://127.0.0.1:${portOf(server)}`;
      for (const email of [reserved, reserved.toUpperCase()])
        expectProblem(
          await call(url, '/api/auth/register', { body: { email, password: 'a-long-enough-passphrase' } }),
          409,
          'EMAIL_TAKEN',
        );
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of replica.closers) await c.close().catch(() => undefined);
    }
  });

  it('ensures the ADMIN_EMAIL admin at start', async () => {
    const r = await call(api.url, '/api/auth/login', { body: ADMIN });
    expect(r.status).toBe(200);
    const payload = JSON.parse(
      Buffer.from(String(r.body.accessToken).split('.')[1] as string, 'base64url').toString(),
    );
    expect(payload).toMatchObject({ role: 'admin', iss: 'stampede', aud: 'stampede' });
    expect(payload.exp - payload.iat).toBeLessThanOrEqual(900);
  });

  it('starts anyway when ADMIN_EMAIL names an existing non-admin account: logged, nobody promoted', async () => {
    const shopper = await newUser(api.url);
    const config = loadApiConfig({
      ...process.env,
      ADMIN_EMAIL: shopper.email.toUpperCase(),
      ADMIN_PASSWORD: 'takeover-password-0123',
      SMTP_URL: 'smtp://127.0.0.1:9',
      STAMPEDE_PREFIX: prefix,
      DATABASE_SCHEMA: pg.schema,
    });
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
    const other = buildApi(config, log);
    try {
      // Never fatal: one shopper's registration used to keep every api replica from starting.
      await expect(other.start()).resolves.toBeUndefined();
      const logged = lines.map((l) => JSON.parse(l) as { adminEmail?: string; msg: string });
      expect(logged).toEqual([
        expect.objectContaining({
          adminEmail: shopper.email.toUpperCase(),
          msg: expect.stringMatching(/ADMIN_EMAIL names an existing account that is not an admin/),
        }),
      ]);
    } finally {
      for (const c of other.closers) await c.close().catch(() => undefined);
    }
    // The shopper is still a shopper with their own password, and the takeover password opens nothing.
    const own = await call(api.url, '/api/auth/login', {
      body: { email: shopper.email, password: 'a-long-enough-passphrase' },
    });
    expect(own.status).toBe(200);
    const claims = JSON.parse(
      Buffer.from(String(own.body.accessToken).split('.')[1] as string, 'base64url').toString(),
    );
    expect(claims.role).toBe('user');
    expectProblem(
      await call(api.url, '/api/auth/login', {
        body: { email: shopper.email, password: 'takeover-password-0123' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
  });
});

describe('admin and catalogue', () => {
  it('lets only an admin PUT an activity, with the effect of stampede apply', async () => {
    const user = await newUser(api.url);
    const body = spec();
    expectProblem(
      await call(api.url, '/api/admin/activities/phone-sale', { method: 'PUT', body }),
      401,
      'UNAUTHORIZED',
    );
    expectProblem(
      await call(api.url, '/api/admin/activities/phone-sale', {
        method: 'PUT',
        body,
        token: user.accessToken,
      }),
      403,
      'FORBIDDEN',
    );
    const admin = await adminToken(api.url);
    const created = await call(api.url, '/api/admin/activities/phone-sale', {
      method: 'PUT',
      body,
      token: admin,
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      activity: 'phone-sale',
      created: true,
      stock: { total: 10, remaining: 10 },
    });
    const again = await call(api.url, '/api/admin/activities/phone-sale', {
      method: 'PUT',
      body: { ...body, stock: 12 },
      token: admin,
    });
    expect(again.status).toBe(200);
    expect(again.body.stock).toEqual({ total: 12, remaining: 12 });
    expect(await redis.get(`${prefix}:{a:phone-sale}:stock`)).toBe('12');
    const bad = await call(api.url, '/api/admin/activities/phone-sale', {
      method: 'PUT',
      body: { ...body, status: 'Live' },
      token: admin,
    });
    expectProblem(bad, 400, 'VALIDATION_FAILED');
    expectProblem(
      await call(api.url, '/api/admin/activities/Bad_Name', { method: 'PUT', body, token: admin }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses stock below what is sold with 409 STOCK_BELOW_SOLD', async () => {
    const admin = await adminToken(api.url);
    const body = spec({ stock: 2, maxPerUser: 2 });
    await call(api.url, '/api/admin/activities/below-sold', { method: 'PUT', body, token: admin });
    await redis.decrby(`${prefix}:{a:below-sold}:stock`, 2);
    expectProblem(
      await call(api.url, '/api/admin/activities/below-sold', {
        method: 'PUT',
        body: { ...body, stock: 1 },
        token: admin,
      }),
      409,
      'STOCK_BELOW_SOLD',
    );
  });

  it('lists activities by status with their stock, and products paginated', async () => {
    const admin = await adminToken(api.url);
    const now = Date.now();
    const put = (name: string, start: number, end: number) =>
      call(api.url, `/api/admin/activities/${name}`, {
        method: 'PUT',
        token: admin,
        body: spec({ window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() } }),
      });
    await put('cat-upcoming', now + 3_600_000, now + 7_200_000);
    await put('cat-live', now - 60_000, now + 3_600_000);
    await put('cat-ended', now - 7_200_000, now - 3_600_000);
    const names = async (status: string) =>
      (
        (await call(api.url, `/api/activities?status=${status}&pageSize=100`)).body.items as {
          name: string;
        }[]
      ).map((a) => a.name);
    expect(await names('upcoming')).toContain('cat-upcoming');
    expect(await names('upcoming')).not.toContain('cat-live');
    expect(await names('live')).toContain('cat-live');
    expect(await names('ended')).toEqual(expect.arrayContaining(['cat-ended']));
    const one = await call(api.url, '/api/activities/cat-live');
    expect(one.body).toMatchObject({
      name: 'cat-live',
      status: 'live',
      stock: { total: 10, remaining: 10, sold: 0 },
      price: '4999.00',
    });
    expectProblem(await call(api.url, '/api/activities/nope'), 404, 'ACTIVITY_NOT_FOUND');
    expectProblem(await call(api.url, '/api/activities?status=soon'), 400, 'VALIDATION_FAILED');

    const page1 = await call(api.url, '/api/products?page=1&pageSize=2');
    expect(page1.body).toMatchObject({ page: 1, pageSize: 2, total: expect.any(Number) });
    expect((page1.body.items as unknown[]).length).toBe(2);
    const past = await call(api.url, '/api/products?page=999&pageSize=2');
    expect(past.body).toMatchObject({ items: [], page: 999, total: page1.body.total });
    const activitiesPast = await call(api.url, '/api/activities?status=live&page=999');
    expect(activitiesPast.body.total).toBeGreaterThanOrEqual(1);
    const first = (page1.body.items as { id: string }[])[0] as { id: string };
    expect((await call(api.url, `/api/products/${first.id}`)).body).toMatchObject({
      id: first.id,
      name: 'Phone',
    });
    expectProblem(
      await call(api.url, '/api/products/00000000-0000-7000-8000-000000000000'),
      404,
      'NOT_FOUND',
    );
    expectProblem(await call(api.url, '/api/products?pageSize=1000'), 400, 'VALIDATION_FAILED');
  });

  it('sends the helmet headers and serves health, readiness and metrics', async () => {
    const r = await call(api.url, '/healthz');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-powered-by')).toBeNull();
    expect((await call(api.url, '/readyz')).status).toBe(200);
    expect(await (await fetch(`${api.url}/metrics`)).text()).toMatch(/stampede_process_/);
  });
});
