// The storefront's refresh token in an HttpOnly cookie (issue 20 point 11), against the real api, Postgres
// and Redis: set on a cookie login, sent back only to the refresh route, rotated there with the same
// reuse detection as the body token (which API clients keep using), and revoked by logging out.
import { request } from 'node:http';
import type { Redis } from 'ioredis';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropRedisPrefix, newRedis, randomPrefix } from '../helpers/env.js';
import { newUser, startApi, type RunningApi } from '../helpers/api.js';
import { call } from '../helpers/seckill.js';

const prefix = randomPrefix('rck');
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

interface Cookie {
  value: string;
  attrs: string[];
}

/** The `stampede_refresh` Set-Cookie of an answer, split into its value and lower-cased attributes. */
function refreshCookie(headers: Headers): Cookie | null {
  const line = headers.getSetCookie().find((c) => c.startsWith('stampede_refresh='));
  if (!line) return null;
  const [pair, ...attrs] = line.split(';').map((p) => p.trim());
  return {
    value: (pair as string).slice('stampede_refresh='.length),
    attrs: attrs.map((a) => a.toLowerCase()),
  };
}

const cookieLogin = async (email: string) => {
  const r = await call(api.url, '/api/auth/login', {
    body: { email, password: 'a-long-enough-passphrase', session: 'cookie' },
  });
  expect(r.status).toBe(200);
  return { body: r.body, cookie: refreshCookie(r.headers) };
};
const refreshWith = (value: string) =>
  call(api.url, '/api/auth/refresh', { method: 'POST', headers: { cookie: `stampede_refresh=${value}` } });

it('sets the refresh token as an HttpOnly, SameSite=Strict cookie scoped to the refresh route, never in the body', async () => {
  const u = await newUser(api.url);
  const { body, cookie } = await cookieLogin(u.email);
  expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn']);
  expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(cookie?.attrs).toEqual(
    expect.arrayContaining(['httponly', 'samesite=strict', 'path=/api/auth/refresh']),
  );
  expect(cookie?.attrs.find((a) => a.startsWith('max-age='))).toBe(`max-age=${7 * 24 * 3600}`);
  // Plain http to 127.0.0.1 (npm start): not Secure, or the browser would drop it.
  expect(cookie?.attrs).not.toContain('secure');
  // A login without `session: "cookie"` (an API client, DESIGN §4) gets the token in the body and no cookie.
  const plain = await call(api.url, '/api/auth/login', {
    body: { email: u.email, password: 'a-long-enough-passphrase' },
  });
  expect(plain.body.refreshToken).toEqual(expect.any(String));
  expect(refreshCookie(plain.headers)).toBeNull();
});

it('marks the cookie Secure for any host but loopback over plain http', async () => {
  const u = await newUser(api.url);
  const { port } = new URL(api.url);
  const setCookie = await new Promise<string[]>((resolve, reject) => {
    const body = JSON.stringify({ email: u.email, password: 'a-long-enough-passphrase', session: 'cookie' });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/auth/login',
        method: 'POST',
        headers: { host: 'shop.example.com', 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        resolve(res.headers['set-cookie'] ?? []);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  const line = setCookie.find((c) => c.startsWith('stampede_refresh='));
  expect(line?.split(';').map((a) => a.trim().toLowerCase())).toContain('secure');
});

it('rotates the cookie on refresh; a replayed cookie revokes the family; logging out revokes it too', async () => {
  const u = await newUser(api.url);
  const { cookie } = await cookieLogin(u.email);
  const first = await refreshWith(cookie?.value ?? '');
  expect(first.status).toBe(200);
  expect(Object.keys(first.body).sort()).toEqual(['accessToken', 'expiresIn']);
  const rotated = refreshCookie(first.headers);
  expect(rotated?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(rotated?.value).not.toBe(cookie?.value);
  // The old cookie again (stolen, or replayed): refused, the cookie cleared, and the rotated one dead too.
  const replay = await refreshWith(cookie?.value ?? '');
  expect({ status: replay.status, code: replay.body.code }).toEqual({ status: 401, code: 'UNAUTHORIZED' });
  expect(refreshCookie(replay.headers)?.value).toBe('');
  expect((await refreshWith(rotated?.value ?? '')).status).toBe(401);

  // Logging out: DELETE on the cookie's own path revokes its family and clears it.
  const again = await cookieLogin(u.email);
  const out = await call(api.url, '/api/auth/refresh', {
    method: 'DELETE',
    headers: { cookie: `stampede_refresh=${again.cookie?.value ?? ''}` },
  });
  expect(out.status).toBe(204);
  expect(refreshCookie(out.headers)?.attrs).toContain('path=/api/auth/refresh');
  expect((await refreshWith(again.cookie?.value ?? '')).status).toBe(401);
  // No cookie and no body: 401, not a validation error.
  expect((await call(api.url, '/api/auth/refresh', { method: 'POST' })).status).toBe(401);
});
