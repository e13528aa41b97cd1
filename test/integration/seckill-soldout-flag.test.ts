// The in-process sold-out flag: set by the script's answer, cleared by a stock event on every process, and
// re-probed by one background read when an event was missed (a stock change made behind its back).
import type { Redis } from 'ioredis';
import { activityKeys } from '../../services/core/redis/keys.js';
import { liveActivity } from '../helpers/activity.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('flag');
let redis: Redis;
let s: RunningSeckill;
let n = 0;
const buyer = () => tokens.sign({ userId: `f${++n}`, role: 'user' });

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

it('sells again after a stock change whose event was missed, found by the background probe', async () => {
  const a = await liveActivity(redis, prefix, { total: 1 });
  expect((await call(s.url, `/seckill/${a.name}`, { token: await buyer(), body: {} })).status).toBe(202);
  const t = await buyer();
  expect((await call(s.url, `/seckill/${a.name}`, { token: t, body: {} })).body.code).toBe('SOLD_OUT');
  // A unit comes back without the pub/sub event (as if it was lost in a disconnect).
  await redis.incr(activityKeys(prefix, a.name).stock);
  const answer = await waitFor(async () => {
    const r = await call(s.url, `/seckill/${a.name}`, { token: await buyer(), body: {} });
    return r.status === 202 ? r : r.body.code === 'SOLD_OUT' ? null : r;
  }, 'the probe to find the returned unit');
  expect(answer.status).toBe(202);
});
