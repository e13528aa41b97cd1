// The proof-of-work challenge is paid in the rush, not in the countdown (issue 20, point 8), against real
// seckill instances on the real Redis: challenges only from SECKILL_CHALLENGE_LEAD_SECONDS before the
// start (409 NOT_STARTED earlier), each valid SECKILL_CHALLENGE_TTL_SECONDS from its issue, and one solved
// before a JWT_SECRET rotation is still redeemed once after it (JWT_SECRET_PREVIOUS), by any instance.
import { solveChallenge, type Challenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import type { Redis } from 'ioredis';
import { TokenService } from '../../services/core/auth/jwt.js';
import type { ActivityInfo } from '../../services/core/activity/spec.js';
import { liveActivity } from '../helpers/activity.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, waitFor } from '../helpers/env.js';
import { call, startSeckill, waitReady, type Answer, type RunningSeckill } from '../helpers/seckill.js';

const OLD = 'the-challenge-key-before-rotation-0123456789';
const NEW = 'the-challenge-key-after-rotation-9876543210ab';
const POW = { purchaseToken: { challenge: 'pow' as const, difficulty: 2000 } };
const prefix = randomPrefix('chal');
let redis: Redis;
let before: RunningSeckill;
let after: RunningSeckill;
let shortLived: RunningSeckill;
let seq = 0;
const newUser = () => `challenger-${++seq}`;
const jwt = (secret: string, userId: string) => new TokenService(secret).sign({ userId, role: 'user' });

beforeAll(async () => {
  redis = newRedis();
  before = await startSeckill(prefix, { JWT_SECRET: OLD });
  after = await startSeckill(prefix, { JWT_SECRET: NEW, JWT_SECRET_PREVIOUS: OLD });
  shortLived = await startSeckill(prefix, { JWT_SECRET: OLD, SECKILL_CHALLENGE_TTL_SECONDS: '5' });
  for (const s of [before, after, shortLived]) await waitReady(s.url);
});
afterAll(async () => {
  for (const s of [before, after, shortLived]) await s.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

const challengeOf = async (s: RunningSeckill, a: ActivityInfo, token: string): Promise<Answer> =>
  call(s.url, `/seckill/${a.name}/challenge`, { token });

async function solved(c: Challenge): Promise<string> {
  const solution = await solveChallenge({ challenge: c, deriveKey });
  expect(solution).not.toBeNull();
  return Buffer.from(JSON.stringify({ challenge: c, solution })).toString('base64');
}

const redeem = (s: RunningSeckill, a: ActivityInfo, token: string, altcha: string): Promise<Answer> =>
  call(s.url, `/seckill/${a.name}/token`, { method: 'POST', token, body: { altcha } });

describe('when challenges are issued', () => {
  it('refuses a challenge before the lead (409 NOT_STARTED with Retry-After)', async () => {
    const a = await liveActivity(redis, prefix, { ...POW, startMs: Date.now() + 300_000 });
    const r = await challengeOf(before, a, await jwt(OLD, newUser()));
    expect({ status: r.status, code: r.body.code }).toEqual({ status: 409, code: 'NOT_STARTED' });
    // Opens 30 s before the start (the default lead): about 270 s from now.
    const retry = Number(r.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(200);
    expect(retry).toBeLessThanOrEqual(271);
  });

  it('issues one inside the lead, valid for its lifetime from now, not from the start', async () => {
    const a = await liveActivity(redis, prefix, { ...POW, startMs: Date.now() + 10_000 });
    const asked = Date.now();
    const r = await challengeOf(before, a, await jwt(OLD, newUser()));
    expect(r.status).toBe(200);
    const expiresMs = ((r.body as unknown as Challenge).parameters.expiresAt ?? 0) * 1000;
    expect(expiresMs).toBeGreaterThan(asked + 50_000);
    expect(expiresMs).toBeLessThanOrEqual(Date.now() + 61_000);
  });

  it('lets a challenge expire after SECKILL_CHALLENGE_TTL_SECONDS (400 CHALLENGE_FAILED)', async () => {
    const a = await liveActivity(redis, prefix, POW);
    const token = await jwt(OLD, newUser());
    const c = (await challengeOf(shortLived, a, token)).body as unknown as Challenge;
    const expiresMs = (c.parameters.expiresAt ?? 0) * 1000;
    expect(expiresMs).toBeLessThanOrEqual(Date.now() + 6_000);
    const payload = await solved(c);
    await waitFor(() => Date.now() > expiresMs + 100, 'the challenge expiry', 15_000);
    const r = await redeem(shortLived, a, token, payload);
    expect({ status: r.status, code: r.body.code, detail: r.body.detail }).toEqual({
      status: 400,
      code: 'CHALLENGE_FAILED',
      detail: 'the challenge expired',
    });
  });
});

describe('a JWT_SECRET rotation', () => {
  it('keeps a challenge solved before it redeemable after it, once', async () => {
    const a = await liveActivity(redis, prefix, POW);
    const user = newUser();
    const token = await jwt(OLD, user);
    const c = await challengeOf(before, a, token);
    expect(c.status).toBe(200);
    const payload = await solved(c.body as unknown as Challenge);
    const r = await redeem(after, a, token, payload);
    expect(r.status).toBe(200);
    expect(typeof r.body.token).toBe('string');
    const again = await redeem(before, a, token, payload);
    expect({ status: again.status, code: again.body.code }).toEqual({
      status: 400,
      code: 'CHALLENGE_FAILED',
    });
  });

  it('still refuses a challenge signed with a key neither instance holds', async () => {
    const stranger = await startSeckill(prefix, { JWT_SECRET: 'a-key-nobody-else-holds-0123456789abcdef' });
    try {
      await waitReady(stranger.url);
      const a = await liveActivity(redis, prefix, POW);
      const user = newUser();
      const c = await challengeOf(stranger, a, await jwt('a-key-nobody-else-holds-0123456789abcdef', user));
      const payload = await solved(c.body as unknown as Challenge);
      const r = await redeem(after, a, await jwt(NEW, user), payload);
      expect({ status: r.status, code: r.body.code }).toEqual({ status: 400, code: 'CHALLENGE_FAILED' });
    } finally {
      await stranger.stop();
    }
  });
});
