// Email verification (issue 20 point 13) against the real api, seckill, Postgres and Redis, and a real SMTP
// server the test starts (smtp-server): register → the mail arrives → the purchase is refused until the
// link is followed → verified → the shopper buys.
import type { Redis } from 'ioredis';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens } from '../helpers/env.js';
import { adminToken, newUser, startApi, type RunningApi } from '../helpers/api.js';
import { call, startSeckill, waitReady, type Answer, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('ver');
const PUBLIC_URL = 'https://shop.example.test';
const PASSWORD = 'a-long-enough-passphrase';
let pg: TestSchema;
let redis: Redis;
let api: RunningApi;
let seckill: RunningSeckill;

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
  api = await startApi(prefix, pg.schema, { PUBLIC_URL });
  seckill = await startSeckill(prefix, { DATABASE_SCHEMA: pg.schema });
  await waitReady(seckill.url);
});
afterAll(async () => {
  await seckill.stop();
  await api.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pg.drop();
});

function expectProblem(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
}

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

let sales = 0;
async function sale(): Promise<string> {
  const name = `ver-${++sales}-${Date.now()}`;
  const r = await call(api.url, `/api/admin/activities/${name}`, {
    method: 'PUT',
    token: await adminToken(api.url),
    body: {
      product: { sku: `SKU-${name}`, name: 'Phone', price: '4999.00' },
      stock: 5,
      window: {
        start: new Date(Date.now() - 60_000).toISOString(),
        end: new Date(Date.now() + 3_600_000).toISOString(),
      },
      paymentWindow: '15m',
    },
  });
  expect(r.status).toBe(201);
  return name;
}

/** The link's path and query against the api's real port (it names PUBLIC_URL). */
const follow = async (link: string) => {
  const u = new URL(link);
  const r = await fetch(`${api.url}${u.pathname}${u.search}`, { redirect: 'manual' });
  return { status: r.status, location: r.headers.get('location') };
};

it('mails a signed link at registration; the seckill refuses the account until it is followed, then it buys', async () => {
  const activity = await sale();
  const email = `verify-${Date.now()}@stampede.test`;
  expect((await call(api.url, '/api/auth/register', { body: { email, password: PASSWORD } })).status).toBe(
    201,
  );
  const link = await api.mailbox!.linkFor(email);
  expect(link.startsWith(`${PUBLIC_URL}/api/auth/verify?token=`)).toBe(true);
  const mail = api.mailbox!.mails.find((m) => m.to.includes(email));
  expect(mail?.raw).toMatch(/^Subject: Verify your email address/m);

  const before = await call(api.url, '/api/auth/login', { body: { email, password: PASSWORD } });
  expect(claims(String(before.body.accessToken)).email_verified).toBe(false);
  const unverified = String(before.body.accessToken);
  expectProblem(
    await call(seckill.url, `/seckill/${activity}`, { token: unverified, body: {} }),
    403,
    'EMAIL_NOT_VERIFIED',
  );
  expectProblem(
    await call(seckill.url, `/seckill/${activity}/token`, { token: unverified, body: {} }),
    403,
    'EMAIL_NOT_VERIFIED',
  );
  // The api still serves the account (its orders, a new link): only buying needs the verified address.
  expect((await call(api.url, '/api/orders', { token: unverified })).status).toBe(200);

  expect(await follow(link)).toEqual({ status: 303, location: '/#/verified' });
  // Following it again (a mail scanner got there first) still lands on "verified".
  expect(await follow(link)).toEqual({ status: 303, location: '/#/verified' });
  // The token issued before says unverified until it is refreshed; the refreshed one buys.
  expectProblem(
    await call(seckill.url, `/seckill/${activity}`, { token: unverified, body: {} }),
    403,
    'EMAIL_NOT_VERIFIED',
  );
  const fresh = await call(api.url, '/api/auth/refresh', {
    body: { refreshToken: before.body.refreshToken },
  });
  expect(claims(String(fresh.body.accessToken)).email_verified).toBe(true);
  const bought = await call(seckill.url, `/seckill/${activity}`, {
    token: String(fresh.body.accessToken),
    body: {},
  });
  expect(bought.status).toBe(202);
});

it('refuses a tampered link, an access token as a link and a link as an access token', async () => {
  const u = await newUser(api.url, { verified: false });
  const link = await api.mailbox!.linkFor(u.email);
  const token = new URL(link).searchParams.get('token') as string;
  const [h, p, s] = token.split('.') as [string, string, string];
  const otherUser = Buffer.from(
    JSON.stringify({
      ...JSON.parse(Buffer.from(p, 'base64url').toString()),
      sub: '01890000-0000-7000-8000-000000000000',
    }),
  ).toString('base64url');
  for (const bad of [`${h}.${otherUser}.${s}`, u.accessToken, `${token}x`, 'not-a-token'])
    expect(await follow(`${PUBLIC_URL}/api/auth/verify?token=${encodeURIComponent(bad)}`)).toEqual({
      status: 303,
      location: '/#/verify-failed',
    });
  expectProblem(
    await call(api.url, '/api/auth/verify', { body: { token: u.accessToken } }),
    400,
    'VALIDATION_FAILED',
  );
  expectProblem(await call(api.url, '/api/orders', { token }), 401, 'UNAUTHORIZED');
  // Still unverified after all that; the genuine link, by POST (an API client), verifies.
  const login = await call(api.url, '/api/auth/login', { body: { email: u.email, password: PASSWORD } });
  expect(claims(String(login.body.accessToken)).email_verified).toBe(false);
  expect((await call(api.url, '/api/auth/verify', { body: { token } })).body).toEqual({ verified: true });
  const after = await call(api.url, '/api/auth/login', { body: { email: u.email, password: PASSWORD } });
  expect(claims(String(after.body.accessToken)).email_verified).toBe(true);
});

it('mails a fresh link on request to a signed-in, unverified shopper; a verified one has nothing to resend', async () => {
  const u = await newUser(api.url, { verified: false });
  const first = await api.mailbox!.linkFor(u.email);
  const resent = await call(api.url, '/api/auth/verify/resend', { method: 'POST', token: u.accessToken });
  expect({ status: resent.status, body: resent.body }).toEqual({ status: 202, body: { status: 'sent' } });
  const mails = () => api.mailbox!.mails.filter((m) => m.to.includes(u.email.toLowerCase())).length;
  expect(mails()).toBe(2);
  const second = await api.mailbox!.linkFor(u.email);
  expect(await follow(second)).toEqual({ status: 303, location: '/#/verified' });
  expect(await follow(first)).toEqual({ status: 303, location: '/#/verified' });
  const again = await call(api.url, '/api/auth/verify/resend', { method: 'POST', token: u.accessToken });
  expect({ status: again.status, body: again.body }).toEqual({ status: 200, body: { status: 'verified' } });
  expectProblem(await call(api.url, '/api/auth/verify/resend', { method: 'POST' }), 401, 'UNAUTHORIZED');
});

it('keeps synthetic shoppers (stampede sale, bench, tests) verified: their tokens carry the claim', async () => {
  const token = await tokens.sign({ userId: 'synthetic-1', role: 'user' });
  expect(claims(token).email_verified).toBe(true);
  const unverified = await tokens.sign({ userId: 'synthetic-2', role: 'user', emailVerified: false });
  expectProblem(
    await call(seckill.url, `/seckill/${await sale()}`, { token: unverified, body: {} }),
    403,
    'EMAIL_NOT_VERIFIED',
  );
});

it('lets an admin, and only an admin, mark accounts verified by address (load tests, support)', async () => {
  const u = await newUser(api.url, { verified: false });
  const body = { emails: [u.email.toUpperCase(), 'nobody@stampede.test'] };
  expectProblem(
    await call(api.url, '/api/admin/users/verify', { body, token: u.accessToken }),
    403,
    'FORBIDDEN',
  );
  const r = await call(api.url, '/api/admin/users/verify', { body, token: await adminToken(api.url) });
  expect(r.body).toEqual({ verified: 1 });
  const login = await call(api.url, '/api/auth/login', { body: { email: u.email, password: PASSWORD } });
  expect(claims(String(login.body.accessToken)).email_verified).toBe(true);
});
