// Every script refuses ARGV it was not written for (issue 20, point 10) against the real Redis: the
// refusal is one return code, mapped to one typed error (400 VALIDATION_FAILED), and nothing changes.
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import { AppError, ErrorCode } from '../../services/core/errors.js';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { PreheatCode, PurchaseCode, Scripts } from '../../services/core/redis/scripts.js';
import { liveActivity } from '../helpers/activity.js';
import { dropRedisPrefix, newRedis, randomPrefix } from '../helpers/env.js';

const prefix = randomPrefix('argv');
let redis: Redis;
let scripts: Scripts;

beforeAll(() => {
  redis = newRedis();
  scripts = new Scripts(redis);
});
afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

/** The typed refusal, naming the argument. */
async function refused(p: Promise<unknown>, argument: string): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(ErrorCode.VALIDATION_FAILED);
  expect((err as AppError).httpStatus).toBe(400);
  expect((err as AppError).message).toContain(argument);
}

/** Every key of the activity with its value: what must not move. */
async function snapshot(name: string): Promise<string> {
  const k = activityKeys(prefix, name);
  const [stock, buyers, info, idem, kept, tokens, claimed, released] = await Promise.all([
    redis.get(k.stock),
    redis.hgetall(k.buyers),
    redis.hgetall(k.info),
    redis.hgetall(k.idem),
    redis.hgetall(k.kept),
    redis.smembers(k.tokens),
    redis.hgetall(k.claimed),
    redis.hgetall(k.released),
  ]);
  return JSON.stringify({ stock, buyers, info, idem, kept, tokens, claimed, released });
}

describe('purchase.lua', () => {
  it('refuses a negative, zero, fractional or non-numeric quantity: stock 10 stays 10', async () => {
    const a = await liveActivity(redis, prefix, { total: 10, maxPerUser: 1 });
    const k = activityKeys(prefix, a.name);
    const before = await snapshot(a.name);
    for (const q of [-500, 0, 0.5, Number.NaN, 1e300]) {
      await refused(scripts.purchase(k, 'u1', uuidv7(), q), 'quantity');
    }
    expect(await redis.get(k.stock)).toBe('10');
    expect(await snapshot(a.name)).toBe(before);
    expect((await scripts.purchase(k, 'u1', uuidv7(), 1)).code).toBe(PurchaseCode.ACCEPTED);
  });

  it('refuses an empty user, an orderId that would corrupt the buyer entry, a bad keepMs or key', async () => {
    const a = await liveActivity(redis, prefix, { total: 10 });
    const k = activityKeys(prefix, a.name);
    const before = await snapshot(a.name);
    await refused(scripts.purchase(k, '', uuidv7(), 1), 'userId');
    await refused(scripts.purchase(k, 'u1', 'a:b', 1), 'orderId');
    await refused(scripts.purchase(k, 'u1', '', 1), 'orderId');
    await refused(scripts.purchase(k, 'u1', uuidv7(), 1, 'x'.repeat(129)), 'idempotencyKey');
    await refused(scripts.purchase(k, 'u1', uuidv7(), 1, '', { nonce: 'n', keepMs: -1 }), 'keepMs');
    expect(await snapshot(a.name)).toBe(before);
  });
});

describe('the other scripts', () => {
  it('preheat refuses a negative total, a window ending before it starts, maxPerUser 0, a bad state', async () => {
    const a = await liveActivity(redis, prefix, { total: 10 });
    const k = activityKeys(prefix, a.name);
    const before = await snapshot(a.name);
    const now = Date.now();
    const good = [10, now, now + 60_000, 1, '9.99', 'active', stockEventsChannel(prefix), a.name, 0, ''];
    const bad: [number, unknown, string][] = [
      [0, -5, 'total'],
      [0, '1e3', 'total'],
      [2, now - 1, 'end'],
      [3, 0, 'maxPerUser'],
      [4, '-1', 'price'],
      [5, 'open', 'state'],
      [8, -1, 'held'],
      [9, 'pow', 'token'],
    ];
    for (const [i, value, name] of bad) {
      const argv = [...good];
      argv[i] = value as never;
      await refused(scripts.preheat(k, argv as (string | number)[]), name);
    }
    expect(await snapshot(a.name)).toBe(before);
  });

  it('preheat refuses a bad room rule, and a room without a 64 hex digit seed and commitment', async () => {
    const a = await liveActivity(redis, prefix, { total: 10 });
    const k = activityKeys(prefix, a.name);
    const before = await snapshot(a.name);
    const now = Date.now();
    const hex = 'ab'.repeat(32);
    const room = '600000:50:500:120000:none';
    const good = [
      10,
      now,
      now + 60_000,
      1,
      '9.99',
      'active',
      stockEventsChannel(prefix),
      a.name,
      0,
      'none:5',
    ];
    const bad: [unknown[], string][] = [
      [['600000:50:500:120000:captcha', hex, hex], 'room'],
      [['600000:0:500:120000:none', hex, hex], 'room'],
      [['600000:50:10001:120000:none', hex, hex], 'room'],
      [['600000:50:500:0:none', hex, hex], 'room'],
      [['-1:50:500:120000:none', hex, hex], 'room'],
      [['600000:50:500:120000', hex, hex], 'room'],
      [[room], 'seed'],
      [[room, '', hex], 'seed'],
      [[room, hex.slice(2), hex], 'seed'],
      [[room, 'AB'.repeat(32), hex], 'seed'],
      [[room, hex], 'commit'],
      [[room, hex, 'zz'.repeat(32)], 'commit'],
    ];
    for (const [tail, name] of bad) {
      await refused(scripts.preheat(k, [...good, ...tail] as (string | number)[]), name);
    }
    expect(await snapshot(a.name)).toBe(before);
    expect(await redis.exists(k.room)).toBe(0);
    // Without a room, seed and commitment are not read at all.
    expect((await scripts.preheat(k, [...good, '', 'x', 'y'])).code).toBe(PreheatCode.UPDATED);
    expect(await redis.exists(k.room)).toBe(0);
  });

  it('park refuses an unknown mark; lease refuses a ttl that is not a positive integer', async () => {
    const a = await liveActivity(redis, prefix, { total: 3 });
    const k = activityKeys(prefix, a.name);
    const orderId = uuidv7();
    expect((await scripts.purchase(k, 'u1', orderId, 1)).code).toBe(PurchaseCode.ACCEPTED);
    const before = await snapshot(a.name);
    await refused(scripts.park(k, 'u1', orderId, 'gone' as never), 'mark');
    const lease = `${prefix}:lease`;
    await refused(scripts.lease(lease, 'me', -1), 'ttl');
    await refused(scripts.lease(lease, 'me', 1.5), 'ttl');
    await refused(scripts.lease(lease, '', 1000), 'holder');
    expect(await redis.exists(lease)).toBe(0);
    expect(await snapshot(a.name)).toBe(before);
  });

  it('claim refuses an odd list; restore and release refuse an empty channel', async () => {
    const a = await liveActivity(redis, prefix, { total: 3 });
    const k = activityKeys(prefix, a.name);
    const orderId = uuidv7();
    expect((await scripts.purchase(k, 'u1', orderId, 1)).code).toBe(PurchaseCode.ACCEPTED);
    const before = await snapshot(a.name);
    const odd = (scripts as unknown as { run(n: string, k: string[], a: string[]): Promise<unknown> }).run(
      'claim',
      [k.buyers, k.claimed, k.released],
      ['u1', orderId, 'u2'],
    );
    await refused(odd, 'pairs');
    await refused(scripts.restore(k, 'u1', orderId, '', a.name), 'channel');
    await refused(scripts.release(k, 'u1', orderId, '', a.name), 'channel');
    await refused(scripts.result(k, ''), 'userId');
    expect(await snapshot(a.name)).toBe(before);
  });
});
