// Unknown activity names cost bounded memory (issue 20, point 5): the cache keeps unknown names in a
// capped negative cache that expires, the metric-label set is capped too, and the unauthenticated reads
// (`GET …/stock`, `GET …/token`) are limited per client IP.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ActivityCache } from '../../services/seckill/activity-cache.js';
import { liveActivity } from '../helpers/activity.js';
import {
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  quietLog,
  randomPrefix,
  waitFor,
} from '../helpers/env.js';
import { call, startSeckill, waitReady } from '../helpers/seckill.js';

const prefix = randomPrefix('abuse');
let redis: Redis;

beforeAll(() => {
  redis = newRedis();
});
afterAll(async () => {
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

const randomName = () => `nope-${randomBytes(6).toString('hex')}`;

describe('the activity cache under a scan of random names', () => {
  it('stays within its caps however many distinct unknown names are looked up', async () => {
    const cache = new ActivityCache(redis, prefix, quietLog, 5000, Date.now, { missing: 200, known: 50 });
    const real = await liveActivity(redis, prefix);
    expect(await cache.stock(real.name)).not.toBeNull();
    for (let batch = 0; batch < 20; batch++) {
      const names = Array.from({ length: 100 }, randomName);
      const found = await Promise.all(names.map((n) => cache.stock(n)));
      expect(found.every((f) => f === null)).toBe(true);
      for (const n of names) expect(cache.peek(n)).toBeNull();
    }
    // 2,000 unknown names were looked up: at most the cap is held, and the real activity is still there.
    // (plus the real activity's entry and its label)
    expect(cache.size()).toBeLessThanOrEqual(200 + 2);
    expect(cache.holds(real.name)).toBe(true);
    expect(cache.known(real.name)).toBe(true);
  });

  it('forgets an unknown name after its expiry, so an activity created later is found', async () => {
    let now = 1_000_000;
    const cache = new ActivityCache(redis, prefix, quietLog, 5000, () => now);
    const name = randomName();
    expect(await cache.stock(name)).toBeNull();
    await liveActivity(redis, prefix, { name });
    // Still the negative answer within its expiry (that is what it is for) ...
    expect(await cache.stock(name)).toBeNull();
    now += 1_001;
    // ... and read again after it.
    expect((await cache.stock(name))?.info.name).toBe(name);
  });

  it('caps the names it keeps as metric labels', async () => {
    const cache = new ActivityCache(redis, prefix, quietLog, 5000, Date.now, { missing: 10, known: 3 });
    const names = [];
    for (let i = 0; i < 6; i++) names.push((await liveActivity(redis, prefix)).name);
    for (const n of names) await cache.load(n);
    expect(names.filter((n) => cache.known(n)).length).toBeLessThanOrEqual(3);
    // The most recently loaded are the ones kept.
    expect(cache.known(names[5] as string)).toBe(true);
  });
});

describe('the unauthenticated reads', () => {
  it('answer 429 RATE_LIMITED with Retry-After above the per-IP limit, on …/stock and …/token', async () => {
    const s = await startSeckill(prefix, { SECKILL_RATE_PER_IP: '3' });
    try {
      await waitReady(s.url);
      const a = await liveActivity(redis, prefix);
      for (const path of [
        `/seckill/${a.name}/stock`,
        `/seckill/${a.name}/token`,
        `/seckill/${randomName()}/stock`,
      ]) {
        // A burst well above the limit; repeated only should a window turn in the middle of one.
        const limited = await waitFor(async () => {
          const answers = await Promise.all(Array.from({ length: 10 }, () => call(s.url, path)));
          return answers.find((r) => r.status === 429);
        }, `a 429 on ${path}`);
        expect(limited.body.code).toBe('RATE_LIMITED');
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    } finally {
      await s.stop();
    }
  });
});
