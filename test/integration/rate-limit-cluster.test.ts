// The limits hold across processes (issue 20, point 6): two seckill instances on one Redis, each with its own
// memory as two pods have, let one user, one IP or everyone through at the configured rate in total, not
// at twice it; two api instances do the same for login and for refresh (per IP and per token family).
// GCRA admits `count` at once and then `count` per period, so in t seconds at most count + count·t pass.
import type { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { liveActivity } from '../helpers/activity.js';
import { startApi, type RunningApi } from '../helpers/api.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens } from '../helpers/env.js';
import { call, startSeckill, waitReady, type Answer, type RunningSeckill } from '../helpers/seckill.js';

const LANES = 12;
const HAMMER_MS = 3000;

interface Tally {
  passed: number;
  refused: number;
  other: number[];
  seconds: number;
}

/** LANES loops for HAMMER_MS, request i to urls[i % 2]; counts answers that passed the limit and 429s. */
async function hammer(urls: string[], send: (url: string, i: number) => Promise<Answer>): Promise<Tally> {
  const t: Tally = { passed: 0, refused: 0, other: [], seconds: 0 };
  const started = Date.now();
  let i = 0;
  const lane = async () => {
    while (Date.now() - started < HAMMER_MS) {
      const n = i++;
      const r = await send(urls[n % urls.length] as string, n);
      if (r.status === 429) {
        t.refused++;
        expect(r.body.code).toBe('RATE_LIMITED');
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      } else if (r.status >= 500) t.other.push(r.status);
      else t.passed++;
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  t.seconds = (Date.now() - started) / 1000;
  return t;
}

/** What GCRA may let through in `seconds` at `perSecond` (burst = perSecond), one request of slack. */
const bound = (perSecond: number, seconds: number) => perSecond + Math.ceil(perSecond * seconds) + 1;

describe('seckill limits across two processes', () => {
  const prefix = randomPrefix('rlc');
  let redis: Redis;
  let seq = 0;
  beforeAll(() => {
    redis = newRedis();
  });
  afterAll(async () => {
    await dropAmqpPrefix(prefix);
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  async function pair(env: Record<string, string>): Promise<RunningSeckill[]> {
    const both = [await startSeckill(prefix, env), await startSeckill(prefix, env)];
    for (const s of both) await waitReady(s.url);
    return both;
  }

  it.each([
    ['SECKILL_RATE_PER_USER', 'one user', false],
    ['SECKILL_RATE_PER_IP', 'one IP, a new user each request', true],
    ['SECKILL_RATE_GLOBAL', 'everyone, a new user each request', true],
  ])('%s=5 lets %s through at 5/s in total', async (variable, _who, newUsers) => {
    const both = await pair({ [variable]: '5' });
    try {
      const a = await liveActivity(redis, prefix, { total: 1_000_000 });
      const tag = `${variable}-${++seq}`;
      const one = await tokens.sign({ userId: `${tag}-one`, role: 'user' });
      const t = await hammer(
        both.map((s) => s.url),
        async (url, i) => {
          const token = newUsers ? await tokens.sign({ userId: `${tag}-${i}`, role: 'user' }) : one;
          return call(url, `/seckill/${a.name}`, { method: 'POST', token });
        },
      );
      expect(t.other).toEqual([]);
      expect(t.refused).toBeGreaterThan(0);
      expect(t.passed).toBeGreaterThanOrEqual(5);
      // Per process (today's code) the two instances let through about twice the bound.
      expect(t.passed).toBeLessThanOrEqual(bound(5, t.seconds));
      if (process.env.TEST_PRINT) console.log(variable, t);
    } finally {
      for (const s of both) await s.stop();
    }
  });

  it.each([
    ['SECKILL_RATE_PER_IP', 'GET …/stock from one IP', 'stock'],
    ['SECKILL_RATE_PER_USER', 'GET …/result polls of one user', 'result'],
  ])('%s=5 holds %s at 5/s in total', async (variable, _what, route) => {
    const both = await pair({ [variable]: '5' });
    try {
      const a = await liveActivity(redis, prefix, { total: 10 });
      const token = await tokens.sign({ userId: `${variable}-poll-${++seq}`, role: 'user' });
      const t = await hammer(
        both.map((s) => s.url),
        (url) => call(url, `/seckill/${a.name}/${route}`, route === 'result' ? { token } : {}),
      );
      expect(t.other).toEqual([]);
      expect(t.refused).toBeGreaterThan(0);
      expect(t.passed).toBeGreaterThanOrEqual(5);
      expect(t.passed).toBeLessThanOrEqual(bound(5, t.seconds));
    } finally {
      for (const s of both) await s.stop();
    }
  });
});

describe('api limits across two processes', () => {
  const prefix = randomPrefix('rla');
  let pg: TestSchema;
  let redis: Redis;
  beforeAll(async () => {
    redis = newRedis();
    pg = await testSchema();
  });
  afterAll(async () => {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
    await pg.drop();
  });

  async function pair(env: Record<string, string>): Promise<RunningApi[]> {
    return [await startApi(prefix, pg.schema, env), await startApi(prefix, pg.schema, env)];
  }

  /** `n` requests, alternating between the two; how many passed the limit. */
  async function alternate(apis: RunningApi[], n: number, send: (url: string) => Promise<Answer>) {
    const answers: Answer[] = [];
    const started = Date.now();
    for (let i = 0; i < n; i++) answers.push(await send((apis[i % 2] as RunningApi).url));
    expect(answers.filter((r) => r.status >= 500)).toEqual([]);
    const refused = answers.filter((r) => r.status === 429);
    for (const r of refused) expect(r.body.code).toBe('RATE_LIMITED');
    return { passed: n - refused.length, minutes: (Date.now() - started) / 60_000 };
  }

  it('API_AUTH_RATE_PER_MINUTE=5 lets one IP log in 5 times a minute in total', async () => {
    const apis = await pair({ API_AUTH_RATE_PER_MINUTE: '5' });
    try {
      const r = await alternate(apis, 12, (url) =>
        call(url, '/api/auth/login', {
          body: { email: 'nobody@stampede.test', password: 'wrong-password-1' },
        }),
      );
      expect(r.passed).toBeGreaterThanOrEqual(5);
      expect(r.passed).toBeLessThanOrEqual(bound(5, r.minutes));
    } finally {
      for (const a of apis) await a.stop();
    }
  });

  it('API_REFRESH_RATE_PER_MINUTE=4 limits refresh per IP in total', async () => {
    const apis = await pair({ API_REFRESH_RATE_PER_MINUTE: '4' });
    try {
      const r = await alternate(apis, 12, (url) =>
        call(url, '/api/auth/refresh', { body: { refreshToken: 'not-a-real-token' } }),
      );
      expect(r.passed).toBeGreaterThanOrEqual(4);
      expect(r.passed).toBeLessThanOrEqual(bound(4, r.minutes));
    } finally {
      for (const a of apis) await a.stop();
    }
  });

  it('API_REFRESH_FAMILY_RATE_PER_MINUTE=3 limits one token family, not its neighbours, and reuse still revokes', async () => {
    const apis = await pair({ API_AUTH_RATE_PER_MINUTE: '1000', API_REFRESH_FAMILY_RATE_PER_MINUTE: '3' });
    try {
      const [first, second] = apis.map((a) => a.url) as [string, string];
      const email = `family-${Date.now()}@stampede.test`;
      const password = 'a-long-enough-passphrase';
      expect((await call(first, '/api/auth/register', { body: { email, password } })).status).toBe(201);
      const login = async () =>
        String((await call(first, '/api/auth/login', { body: { email, password } })).body.refreshToken);
      let token = await login();
      const spent: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await call(i % 2 ? second : first, '/api/auth/refresh', { body: { refreshToken: token } });
        expect(r.status).toBe(200);
        spent.push(token);
        token = String(r.body.refreshToken);
      }
      const refused = await call(second, '/api/auth/refresh', { body: { refreshToken: token } });
      expect({ status: refused.status, code: refused.body.code }).toEqual({
        status: 429,
        code: 'RATE_LIMITED',
      });
      // Another session of the same user from the same IP is another family: it refreshes.
      expect(
        (await call(second, '/api/auth/refresh', { body: { refreshToken: await login() } })).status,
      ).toBe(200);
      // A spent token presented again is still theft: 401, and the limited family is revoked.
      expect((await call(first, '/api/auth/refresh', { body: { refreshToken: spent[0] } })).status).toBe(401);
      const [row] = await pg.db.query<{ live: number }>(
        `SELECT count(*)::int AS live FROM refresh_tokens t JOIN users u ON u.id = t.user_id
         WHERE u.email = $1 AND t.revoked_at IS NULL AND t.used_at IS NULL`,
        { bind: [email], type: QueryTypes.SELECT },
      );
      // Only the second session's fresh token is left unrevoked.
      expect(row?.live).toBe(1);
    } finally {
      for (const a of apis) await a.stop();
    }
  });
});
