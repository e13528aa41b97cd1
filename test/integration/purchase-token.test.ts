// Purchase tokens and the ALTCHA challenge (issue 14) against the real Redis and RabbitMQ: every refusal
// (missing, expired, foreign user, foreign activity, forged, reused), the window of the token route, the
// challenge's replay and forgery, and a token-protected sale that sells exactly its stock.
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import { preheat, readActivity } from '../../services/core/activity/preheat.js';
import { activitySpecSchema, infoFromSpec, type ActivityInfo } from '../../services/core/activity/spec.js';
import { DEV_JWT_SECRET } from '../../services/core/config.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { PreheatCode, PurchaseCode, Scripts } from '../../services/core/redis/scripts.js';
import { PurchaseTokens } from '../../services/seckill/purchase-token.js';
import { liveActivity } from '../helpers/activity.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { call, startSeckill, waitReady, type Answer, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('ptok');
let s: RunningSeckill;
let redis: Redis;
let seq = 0;
const jwt = (userId: string) => tokens.sign({ userId, role: 'user' });
const newUser = () => `shopper-${++seq}`;
const NEEDS_TOKEN = { purchaseToken: { challenge: 'none' as const, difficulty: 1 } };
const POW = { purchaseToken: { challenge: 'pow' as const, difficulty: 2000 } };

beforeAll(async () => {
  redis = newRedis();
  s = await startSeckill(prefix);
  await waitReady(s.url);
});
afterAll(async () => {
  await s.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

function expectProblem(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
}

async function getToken(a: ActivityInfo, userId: string, body?: unknown): Promise<Answer> {
  return call(s.url, `/seckill/${a.name}/token`, { method: 'POST', token: await jwt(userId), body });
}

async function buy(a: ActivityInfo, userId: string, purchaseToken?: string, key?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (purchaseToken !== undefined) headers['purchase-token'] = purchaseToken;
  if (key) headers['idempotency-key'] = key;
  return call(s.url, `/seckill/${a.name}`, { method: 'POST', token: await jwt(userId), headers });
}

async function tokenFor(a: ActivityInfo, userId: string): Promise<string> {
  const r = await getToken(a, userId);
  expect(r.status).toBe(200);
  return r.body.token as string;
}

async function stockOf(a: ActivityInfo) {
  const k = activityKeys(prefix, a.name);
  return { stock: await redis.get(k.stock), buyers: await redis.hlen(k.buyers) };
}

describe('spec.purchaseToken in the activity info', () => {
  it('reaches Redis and reads back exactly as the operator compares it; dropping it drops the rule', async () => {
    const now = Date.now();
    const window = {
      start: new Date(now - 60_000).toISOString(),
      end: new Date(now + 3_600_000).toISOString(),
    };
    const base = { product: { sku: 'SKU-T', name: 'T', price: '1.00' }, stock: 5, window };
    const spec = activitySpecSchema.parse({
      ...base,
      purchaseToken: { required: true, challenge: 'pow', difficulty: 3000 },
    });
    const info = infoFromSpec(`spec-${++seq}`, spec);
    expect(info.purchaseToken).toEqual({ challenge: 'pow', difficulty: 3000 });
    expect((await preheat(redis, prefix, info)).code).toBe(PreheatCode.CREATED);
    expect(JSON.stringify((await readActivity(redis, prefix, info.name))?.info)).toBe(JSON.stringify(info));
    expect((await preheat(redis, prefix, info)).code).toBe(PreheatCode.UNCHANGED);

    const plain = infoFromSpec(info.name, activitySpecSchema.parse(base));
    expect('purchaseToken' in plain).toBe(false);
    expect((await preheat(redis, prefix, plain)).code).toBe(PreheatCode.UPDATED);
    expect(JSON.stringify((await readActivity(redis, prefix, info.name))?.info)).toBe(JSON.stringify(plain));
    await waitFor(async () => (await buy(plain, newUser())).status === 202, 'a purchase without a token');
  });
});

describe('POST /seckill/:activity/token', () => {
  it('issues a short-lived token inside the window', async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    const before = Date.now();
    const r = await getToken(a, newUser());
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      token: expect.stringMatching(/^[0-9a-z]+\.[\w-]{22}\.[\w-]{43}$/),
      expiresAt: expect.any(String),
    });
    const ttl = Date.parse(r.body.expiresAt as string) - before;
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
  });

  it('GET says whether a token and which challenge a sale needs, with the server time', async () => {
    const plain = await liveActivity(redis, prefix);
    const pow = await liveActivity(redis, prefix, POW);
    const before = Date.now();
    const r = await call(s.url, `/seckill/${pow.name}/token`);
    expect(r.body).toEqual({ required: true, challenge: 'pow', serverTime: expect.any(Number) });
    expect(r.body.serverTime as number).toBeGreaterThanOrEqual(before);
    expect(r.body.serverTime as number).toBeLessThanOrEqual(Date.now());
    expect((await call(s.url, `/seckill/${plain.name}/token`)).body).toMatchObject({
      required: false,
      challenge: 'none',
    });
  });

  it('refuses before the start (409 NOT_STARTED), after the end (409 ENDED), while paused, and unknown sales', async () => {
    const now = Date.now();
    const upcoming = await liveActivity(redis, prefix, {
      ...NEEDS_TOKEN,
      startMs: now + 3_600_000,
      endMs: now + 7_200_000,
    });
    const ended = await liveActivity(redis, prefix, {
      ...NEEDS_TOKEN,
      startMs: now - 7_200_000,
      endMs: now - 3_600_000,
    });
    const paused = await liveActivity(redis, prefix, { ...NEEDS_TOKEN, paused: true });
    expectProblem(await getToken(upcoming, newUser()), 409, 'NOT_STARTED');
    expectProblem(await getToken(ended, newUser()), 409, 'ENDED');
    expectProblem(await getToken(paused, newUser()), 409, 'NOT_STARTED');
    expectProblem(await getToken({ ...ended, name: 'no-such-sale' }, newUser()), 404, 'ACTIVITY_NOT_FOUND');
    const anonymous = await call(s.url, `/seckill/${upcoming.name}/token`, { method: 'POST' });
    expectProblem(anonymous, 401, 'UNAUTHORIZED');
  });
});

describe('a sale that requires a purchase token', () => {
  it('refuses a purchase without a token (403 TOKEN_REQUIRED) and takes nothing', async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    expectProblem(await buy(a, newUser()), 403, 'TOKEN_REQUIRED');
    expectProblem(await buy(a, newUser(), ''), 403, 'TOKEN_REQUIRED');
    expect(await stockOf(a)).toEqual({ stock: '10', buyers: 0 });
  });

  it('accepts a purchase with its token', async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    const user = newUser();
    const r = await buy(a, user, await tokenFor(a, user));
    expect(r.status).toBe(202);
    expect(await stockOf(a)).toEqual({ stock: '9', buyers: 1 });
  });

  it("refuses another user's, another activity's, an expired, a forged and a malformed token (403 TOKEN_INVALID)", async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    const other = await liveActivity(redis, prefix, NEEDS_TOKEN);
    const user = newUser();
    const mine = await tokenFor(a, user);
    const foreignUser = await tokenFor(a, newUser());
    const foreignActivity = await tokenFor(other, user);
    const expired = new PurchaseTokens(DEV_JWT_SECRET, undefined, 60_000, () => Date.now() - 120_000).issue(
      a.name,
      user,
    ).token;
    const otherKey = new PurchaseTokens('another-secret-of-at-least-32-characters!', undefined, 60_000).issue(
      a.name,
      user,
    ).token;
    const [exp, nonce, mac] = mine.split('.') as [string, string, string];
    const longer = `${(parseInt(exp, 36) + 3_600_000).toString(36)}.${nonce}.${mac}`;
    for (const bad of [foreignUser, foreignActivity, expired, otherKey, longer, 'garbage', `${mine}.x`]) {
      expectProblem(await buy(a, user, bad), 403, 'TOKEN_INVALID');
    }
    expect(await stockOf(a)).toEqual({ stock: '10', buyers: 0 });
    expect((await buy(a, user, mine)).status).toBe(202);
  });

  it('answers a retry of the accepted purchase with its spent token; a sold-out attempt spends no token', async () => {
    const a = await liveActivity(redis, prefix, { ...NEEDS_TOKEN, total: 1 });
    const winner = newUser();
    const loser = newUser();
    const won = await tokenFor(a, winner);
    const first = await buy(a, winner, won, 'intent-1');
    expect(first.status).toBe(202);
    const retry = await buy(a, winner, won, 'intent-1');
    expect(retry.status).toBe(202);
    expect(retry.body.orderId).toBe(first.body.orderId);

    // The loser's token reaches the stock but buys nothing: a token is spent only when it buys (a sold-out
    // attempt must not grow the nonce set), so with more stock the same token buys.
    const lost = await tokenFor(a, loser);
    expectProblem(await buy(a, loser, lost, 'intent-2'), 409, 'SOLD_OUT');
    expect(await redis.scard(activityKeys(prefix, a.name).tokens)).toBe(1);
    await preheat(redis, prefix, { ...a, total: 2 });
    await waitFor(async () => (await stockOf(a)).stock === '1', 'stock raised');
    expect((await buy(a, loser, lost, 'intent-3')).status).toBe(202);
    expect(await redis.scard(activityKeys(prefix, a.name).tokens)).toBe(2);
    expect(await stockOf(a)).toEqual({ stock: '0', buyers: 2 });
  });

  it('answers a sold-out sale SOLD_OUT without looking at the token, also for a first-time shopper', async () => {
    const a = await liveActivity(redis, prefix, { ...NEEDS_TOKEN, total: 1 });
    const winner = newUser();
    expect((await buy(a, winner, await tokenFor(a, winner))).status).toBe(202);
    // The sold-out flag is set by the sale's last unit: no token, or a bad one, is not even read.
    expectProblem(await buy(a, newUser()), 409, 'SOLD_OUT');
    expectProblem(await buy(a, newUser(), 'garbage'), 409, 'SOLD_OUT');
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).not.toMatch(
      new RegExp(`stampede_purchase_tokens_total\\{[^}]*activity="${a.name}",outcome="token_`),
    );
  });

  it('keeps a token usable after a refusal that did not reach the stock (limit exceeded)', async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    const user = newUser();
    const t = await tokenFor(a, user);
    const over = await call(s.url, `/seckill/${a.name}`, {
      token: await jwt(user),
      body: { quantity: 2 },
      headers: { 'purchase-token': t },
    });
    expectProblem(over, 409, 'LIMIT_EXCEEDED');
    expect((await buy(a, user, t)).status).toBe(202);
  });

  it('the script itself refuses when the process does not know the sale yet (cold cache)', async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    const k = activityKeys(prefix, a.name);
    const scripts = new Scripts(redis);
    const none = await scripts.purchase(k, 'u1', uuidv7(), 1, '', { nonce: '', keepMs: 60_000 });
    const bad = await scripts.purchase(k, 'u1', uuidv7(), 1, '', { nonce: '-', keepMs: 60_000 });
    expect([none.code, bad.code]).toEqual([PurchaseCode.TOKEN_REQUIRED, PurchaseCode.TOKEN_INVALID]);
    const nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
    const ok = await scripts.purchase(k, 'u1', uuidv7(), 1, '', { nonce, keepMs: 60_000 });
    const again = await scripts.purchase(k, 'u2', uuidv7(), 1, '', { nonce, keepMs: 60_000 });
    expect([ok.code, again.code]).toEqual([PurchaseCode.ACCEPTED, PurchaseCode.TOKEN_INVALID]);
    // The spent nonces expire once no token of the sale can still be valid.
    const pttl = await redis.pexpiretime(k.tokens);
    expect(pttl).toBeGreaterThanOrEqual(a.endMs + 60_000);
    expect(pttl).toBeLessThanOrEqual(a.endMs + 60_000 + 1000);
  });

  it('sells exactly its stock to a crowd that fetches tokens', async () => {
    const a = await liveActivity(redis, prefix, { ...NEEDS_TOKEN, total: 20 });
    const crowd = Array.from({ length: 60 }, () => newUser());
    const answers = await Promise.all(crowd.map(async (u) => (await buy(a, u, await tokenFor(a, u))).status));
    expect(answers.filter((c) => c === 202)).toHaveLength(20);
    expect(answers.filter((c) => c !== 202 && c !== 409)).toEqual([]);
    expect(await stockOf(a)).toEqual({ stock: '0', buyers: 20 });
  });

  it('counts issued and refused tokens in stampede_purchase_tokens_total', async () => {
    const a = await liveActivity(redis, prefix, NEEDS_TOKEN);
    await tokenFor(a, newUser());
    await buy(a, newUser());
    await buy(a, newUser(), 'garbage');
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const outcome of ['issued', 'token_required', 'token_invalid']) {
      expect(text).toMatch(
        new RegExp(
          `stampede_purchase_tokens_total\\{[^}]*activity="${a.name}",outcome="${outcome}"[^}]*\\} 1`,
        ),
      );
    }
  });
});

describe('a sale without purchaseToken', () => {
  it('behaves as before: no token needed, a stray header ignored', async () => {
    const a = await liveActivity(redis, prefix);
    expect((await buy(a, newUser())).status).toBe(202);
    expect((await buy(a, newUser(), 'garbage')).status).toBe(202);
    expectProblem(
      await call(s.url, `/seckill/${a.name}/challenge`, { token: await jwt(newUser()) }),
      404,
      'NOT_FOUND',
    );
  });
});

describe('the proof-of-work challenge', () => {
  async function challenge(a: ActivityInfo, userId: string): Promise<Challenge> {
    const r = await call(s.url, `/seckill/${a.name}/challenge`, { token: await jwt(userId) });
    expect(r.status).toBe(200);
    return r.body as unknown as Challenge;
  }
  async function solved(c: Challenge): Promise<string> {
    const solution = await solveChallenge({ challenge: c, deriveKey });
    expect(solution).not.toBeNull();
    return Buffer.from(JSON.stringify({ challenge: c, solution })).toString('base64');
  }

  it('issues a token for a solved challenge, once', async () => {
    const a = await liveActivity(redis, prefix, POW);
    const user = newUser();
    const c = await challenge(a, user);
    expect(c.parameters).toMatchObject({ algorithm: 'SHA-256', data: { activity: a.name, user } });
    const payload = await solved(c);
    const r = await getToken(a, user, { altcha: payload });
    expect(r.status).toBe(200);
    expect((await buy(a, user, r.body.token as string)).status).toBe(202);
    expectProblem(await getToken(a, user, { altcha: payload }), 400, 'CHALLENGE_FAILED');
  });

  it('refuses a missing, forged, foreign or tampered solution (400 CHALLENGE_FAILED)', async () => {
    const a = await liveActivity(redis, prefix, POW);
    const other = await liveActivity(redis, prefix, POW);
    const user = newUser();
    expectProblem(await getToken(a, user), 400, 'CHALLENGE_FAILED');
    expectProblem(await getToken(a, user, { altcha: 'bm90IGpzb24=' }), 400, 'CHALLENGE_FAILED');
    const c = await challenge(a, user);
    const wrong = Buffer.from(JSON.stringify({ challenge: c, solution: { counter: 1, derivedKey: '00' } }));
    expectProblem(await getToken(a, user, { altcha: wrong.toString('base64') }), 400, 'CHALLENGE_FAILED');
    // Made for another shopper, or another sale.
    expectProblem(
      await getToken(a, user, { altcha: await solved(await challenge(a, newUser())) }),
      400,
      'CHALLENGE_FAILED',
    );
    expectProblem(
      await getToken(a, user, { altcha: await solved(await challenge(other, user)) }),
      400,
      'CHALLENGE_FAILED',
    );
    // Easier parameters than the server signed.
    const easy = { ...c, parameters: { ...c.parameters, keyPrefix: '0' } };
    const tampered = Buffer.from(
      JSON.stringify({ challenge: easy, solution: await solveChallenge({ challenge: easy, deriveKey }) }),
    );
    expectProblem(await getToken(a, user, { altcha: tampered.toString('base64') }), 400, 'CHALLENGE_FAILED');
    // The genuine one still works.
    expect((await getToken(a, user, { altcha: await solved(c) })).status).toBe(200);
  });
});
