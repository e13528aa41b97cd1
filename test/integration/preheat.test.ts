// core's preheat against the real Redis: first write, never overwriting live stock, growth adds the
// difference, a total below what is sold is refused and changes nothing, and every change is announced.
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import { preheat, readActivity } from '../../services/core/activity/preheat.js';
import { AppError } from '../../services/core/errors.js';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { PreheatCode, Scripts } from '../../services/core/redis/scripts.js';
import { liveActivity } from '../helpers/activity.js';
import { dropRedisPrefix, newRedis, randomPrefix, waitFor } from '../helpers/env.js';

describe('preheat', () => {
  let redis: Redis;
  const prefix = randomPrefix('preheat');
  beforeAll(() => {
    redis = newRedis();
  });
  afterAll(async () => {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  it('writes stock and info once, then keeps what was sold', async () => {
    const a = await liveActivity(redis, prefix, { total: 5, maxPerUser: 2 });
    const k = activityKeys(prefix, a.name);
    await new Scripts(redis).purchase(k, 'u1', uuidv7(), 2);
    expect(await preheat(redis, prefix, a)).toEqual({ code: PreheatCode.UNCHANGED, remaining: 3, total: 5 });
    expect((await readActivity(redis, prefix, a.name))?.remaining).toBe(3);

    const grown = await preheat(redis, prefix, { ...a, total: 8 });
    expect(grown).toEqual({ code: PreheatCode.UPDATED, remaining: 6, total: 8 });

    const shrunk = await preheat(redis, prefix, { ...a, total: 4 });
    expect(shrunk).toEqual({ code: PreheatCode.UPDATED, remaining: 2, total: 4 });
  });

  it('refuses a total below what is sold and changes nothing', async () => {
    const a = await liveActivity(redis, prefix, { total: 3, maxPerUser: 3 });
    await new Scripts(redis).purchase(activityKeys(prefix, a.name), 'u1', uuidv7(), 3);
    const err = await preheat(redis, prefix, { ...a, total: 2, price: '1.00' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('STOCK_BELOW_SOLD');
    expect((err as AppError).message).toMatch(/below the 3 units already sold/);
    const after = await readActivity(redis, prefix, a.name);
    expect(after).toEqual({ info: a, remaining: 0 });
  });

  it('announces changes on the stock channel', async () => {
    const sub = newRedis();
    const seen: string[] = [];
    sub.on('message', (_ch: string, m: string) => seen.push(m));
    await sub.subscribe(stockEventsChannel(prefix));
    const a = await liveActivity(redis, prefix, { total: 1 });
    await preheat(redis, prefix, { ...a, paused: true });
    await waitFor(() => seen.filter((m) => m === a.name).length === 2, 'two stock events');
    await sub.quit();
  });
});
