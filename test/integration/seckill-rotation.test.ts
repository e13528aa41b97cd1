// A JWT_SECRET rotation on the purchase path: tokens signed with the previous key (naming its kid) keep
// buying for one token lifetime, tokens of any other key do not; result polls are limited per user.
import type { Redis } from 'ioredis';
import { TokenService } from '../../services/core/auth/jwt.js';
import { liveActivity } from '../helpers/activity.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix } from '../helpers/env.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

const OLD = 'the-secret-before-the-rotation-0123456789';
const NEW = 'the-secret-after-the-rotation-9876543210ab';
const prefix = randomPrefix('rotate');
let redis: Redis;
let s: RunningSeckill;

beforeAll(async () => {
  redis = newRedis();
  s = await startSeckill(prefix, { JWT_SECRET: NEW, JWT_SECRET_PREVIOUS: OLD, SECKILL_RATE_PER_USER: '3' });
  await waitReady(s.url);
});
afterAll(async () => {
  await s.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

it('accepts the current and the previous key, and refuses another', async () => {
  const a = await liveActivity(redis, prefix, { total: 5 });
  const buy = async (secret: string, userId: string) =>
    call(s.url, `/seckill/${a.name}`, {
      token: await new TokenService(secret).sign({ userId, role: 'user' }),
      body: {},
    });
  expect((await buy(NEW, 'rot-1')).status).toBe(202);
  expect((await buy(OLD, 'rot-2')).status).toBe(202);
  expect((await buy('a-key-nobody-configured-0123456789abcd', 'rot-3')).status).toBe(401);
});

it('limits result polls per user with the purchase limit', async () => {
  const a = await liveActivity(redis, prefix, { total: 5 });
  const token = await new TokenService(NEW).sign({ userId: 'poller', role: 'user' });
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => call(s.url, `/seckill/${a.name}/result`, { token })),
  );
  const limited = answers.filter((r) => r.status === 429);
  // SECKILL_RATE_PER_USER=3: at most 3 per one-second window get through, so 8 at once cannot all pass.
  expect(limited.length).toBeGreaterThanOrEqual(2);
  expect(Number(limited[0]?.headers.get('retry-after'))).toBeGreaterThan(0);
});
