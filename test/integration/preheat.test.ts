// core's preheat against the real Redis: first write, never overwriting live stock, growth adds the
// difference, a total below what is sold is refused and changes nothing, and every change is announced;
// a waiting room's rule is stored, its seed and commitment written once, and its sale indexed.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import { preheat, readActivity } from '../../services/core/activity/preheat.js';
import type { ActivityInfo, RoomRule } from '../../services/core/activity/spec.js';
import { AppError } from '../../services/core/errors.js';
import { activityKeys, roomsIndexKey, stockEventsChannel } from '../../services/core/redis/keys.js';
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

  describe('with a waiting room', () => {
    const rule: RoomRule = {
      opensBeforeMs: 600_000,
      admitPerSecond: 50,
      maxActive: 500,
      admissionTtlMs: 120_000,
      challenge: 'pow',
      difficulty: 2000,
    };
    const withRoom = (a: ActivityInfo, r: RoomRule = rule): ActivityInfo => ({
      ...a,
      purchaseToken: { challenge: 'none', difficulty: r.difficulty },
      waitingRoom: r,
    });
    const room = (a: ActivityInfo) => redis.hgetall(activityKeys(prefix, a.name).room);

    it('stores the rule, commits to a seed once, and indexes the sale by its end', async () => {
      const a = withRoom(await liveActivity(redis, prefix, { total: 5 }));
      expect((await preheat(redis, prefix, a)).code).toBe(PreheatCode.UPDATED);
      const k = activityKeys(prefix, a.name);
      expect(await redis.hget(k.info, 'room')).toBe('600000:50:500:120000:pow');
      expect(await redis.hget(k.info, 'token')).toBe('none:2000');
      expect(await readActivity(redis, prefix, a.name)).toEqual({ info: a, remaining: 5 });

      const first = await room(a);
      expect(Object.keys(first).sort()).toEqual(['commit', 'seed']);
      expect(first.seed).toMatch(/^[0-9a-f]{64}$/);
      expect(first.commit).toBe(
        createHash('sha256')
          .update(first.seed as string)
          .digest('hex'),
      );
      expect(await redis.zscore(roomsIndexKey(prefix), a.name)).toBe(String(a.endMs));

      // The same spec again, then another rule and window: the commitment never moves.
      expect((await preheat(redis, prefix, a)).code).toBe(PreheatCode.UNCHANGED);
      const later = withRoom({ ...a, endMs: a.endMs + 60_000 }, { ...rule, admitPerSecond: 7 });
      expect((await preheat(redis, prefix, later)).code).toBe(PreheatCode.UPDATED);
      expect(await room(a)).toEqual(first);
      expect(await redis.zscore(roomsIndexKey(prefix), a.name)).toBe(String(later.endMs));
      expect((await readActivity(redis, prefix, a.name))?.info.waitingRoom?.admitPerSecond).toBe(7);
    });

    it('keeps the seed when the room is turned off and on again, and seeds a room hash that was lost', async () => {
      const a = await liveActivity(redis, prefix, {
        total: 2,
        purchaseToken: { challenge: 'none', difficulty: 2000 },
        waitingRoom: rule,
      });
      expect(await redis.zscore(roomsIndexKey(prefix), a.name)).toBe(String(a.endMs));
      const seed = (await room(a)).seed;
      expect(seed).toBeDefined();
      const { purchaseToken: _t, waitingRoom: _r, ...plain } = a;
      expect((await preheat(redis, prefix, plain)).code).toBe(PreheatCode.UPDATED);
      expect(await redis.hget(activityKeys(prefix, a.name).info, 'room')).toBe('');
      expect((await readActivity(redis, prefix, a.name))?.info).toEqual(plain);
      expect((await preheat(redis, prefix, a)).code).toBe(PreheatCode.UPDATED);
      expect((await room(a)).seed).toBe(seed);

      await redis.del(activityKeys(prefix, a.name).room);
      expect((await preheat(redis, prefix, a)).code).toBe(PreheatCode.UPDATED);
      const again = await room(a);
      expect(again.seed).not.toBe(seed);
      expect(again.commit).toBe(
        createHash('sha256')
          .update(again.seed as string)
          .digest('hex'),
      );
      expect((await preheat(redis, prefix, a)).code).toBe(PreheatCode.UNCHANGED);
    });

    it('writes no room hash and no index entry for a sale without a room', async () => {
      const a = await liveActivity(redis, prefix, { total: 1 });
      expect(await redis.exists(activityKeys(prefix, a.name).room)).toBe(0);
      expect(await redis.zscore(roomsIndexKey(prefix), a.name)).toBeNull();
      expect(await redis.hget(activityKeys(prefix, a.name).info, 'room')).toBe('');
    });
  });
});
