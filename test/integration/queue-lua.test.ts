// lua/queue-join.lua and lua/queue-admit.lua against the real Redis: the pre-queue is admitted in the
// order the seed gives (recomputed here from the seed and the tickets alone), later joiners in arrival
// order, one place per user, admissions bounded by maxActive and by the units left, slots freed by a
// purchase and by an expired admission. The room's time is moved by rewriting the info hash's start
// (the scripts read Redis' clock), so nothing races a short window.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { activityKeys, type ActivityKeys } from '../../services/core/redis/keys.js';
import { AdmitCode, RoomCode, RoomScripts } from '../../services/core/redis/room-scripts.js';
import { dropRedisPrefix, newRedis, randomPrefix } from '../helpers/env.js';

interface RoomSetup {
  stock: number;
  rate?: number;
  maxActive?: number;
  ttlMs?: number;
}

const ticket = (): string => randomBytes(16).toString('base64url');
const HOUR = 3_600_000;

describe('waiting room scripts', () => {
  let redis: Redis;
  let room: RoomScripts;
  const prefix = randomPrefix('room');
  let n = 0;
  beforeAll(() => {
    redis = newRedis();
    room = new RoomScripts(redis);
  });
  afterAll(async () => {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  /** A preheated room whose start is an hour ahead (pre-queue open), as preheat.lua leaves it. */
  async function setup(o: RoomSetup): Promise<{ k: ActivityKeys; seed: string }> {
    const k = activityKeys(prefix, `sale-${++n}`);
    const now = Date.now();
    const seed = randomBytes(32).toString('hex');
    const rule = `${2 * HOUR}:${o.rate ?? 100_000}:${o.maxActive ?? 10_000}:${o.ttlMs ?? 60_000}:none:1`;
    await redis.set(k.stock, o.stock);
    await redis.hset(k.info, {
      start: now + HOUR,
      end: now + 2 * HOUR,
      maxPerUser: 1,
      state: 'active',
      room: rule,
      token: 'none:1',
      total: o.stock,
      price: '1',
    });
    await redis.hset(k.room, { seed, commit: createHash('sha256').update(seed).digest('hex') });
    return { k, seed };
  }
  const startNow = (k: ActivityKeys) => redis.hset(k.info, 'start', Date.now() - 1);

  /** Admission passes of one shopper each until the queue is empty: the users in admission order. */
  async function admitAll(k: ActivityKeys): Promise<string[]> {
    const order: string[] = [];
    for (;;) {
      const before = new Set(await redis.zrange(k.passes, 0, -1));
      const r = await room.admit(k, 1);
      expect(r.code).toBe(AdmitCode.ADMITTING);
      const now = await redis.zrange(k.passes, 0, -1);
      order.push(...now.filter((u) => !before.has(u)));
      if (r.waiting === 0 && r.admitted === 0) return order;
    }
  }

  it('admits the pre-queue in the order the revealed seed gives, later joiners in arrival order', async () => {
    const { k, seed } = await setup({ stock: 5000 });
    const early = Array.from({ length: 1000 }, (_, i) => `early-${i}`);
    const tickets = new Map<string, string>();
    for (let i = 0; i < early.length; i += 100) {
      await Promise.all(
        early.slice(i, i + 100).map(async (u) => {
          const r = await room.join(k, u, ticket());
          expect(r).toMatchObject({ code: RoomCode.JOINED, prequeue: true });
          tickets.set(u, r.ticket);
        }),
      );
    }
    // One place per user: joining again, even five times at once, answers the same ticket.
    const again = await Promise.all(Array.from({ length: 5 }, () => room.join(k, 'early-7', ticket())));
    for (const r of again)
      expect(r).toMatchObject({ code: RoomCode.ALREADY, ticket: tickets.get('early-7') });

    expect((await room.admit(k, 10)).code).toBe(AdmitCode.NOT_STARTED); // before the start nobody is admitted
    await startNow(k);
    const late = Array.from({ length: 30 }, (_, i) => `late-${i}`);
    for (const u of late)
      expect(await room.join(k, u, ticket())).toMatchObject({ code: RoomCode.JOINED, prequeue: false });

    // The permutation, from what GET …/queue/draw publishes: the seed and the pre-queue's tickets.
    const score = (t: string) =>
      BigInt(
        `0x${createHash('sha1')
          .update(seed + t)
          .digest('hex')
          .slice(0, 13)}`,
      );
    const drawn = [...(await redis.smembers(k.prequeue))].sort((a, b) => {
      const d = score(a) - score(b);
      return d < 0n ? -1 : d > 0n ? 1 : a < b ? -1 : 1;
    });
    const byTicket = new Map([...tickets].map(([u, t]) => [t, u]));
    const expected = [...drawn.map((t) => byTicket.get(t)), ...late];
    const order = await admitAll(k);
    expect(order).toEqual(expected);
    expect(new Set(order).size).toBe(1030);
    expect(await redis.hget(k.room, 'admitted')).toBe('1030');
  });

  it('never holds more than maxActive slots or more admissions than units left; a purchase or an expiry frees a slot', async () => {
    const { k } = await setup({ stock: 3, maxActive: 2, ttlMs: 60_000 });
    await startNow(k);
    for (let i = 0; i < 6; i++) await room.join(k, `u${i}`, ticket());
    let r = await room.admit(k, 100);
    expect(r).toMatchObject({ admitted: 2, active: 2, waiting: 4 });
    r = await room.admit(k, 100);
    expect(r).toMatchObject({ admitted: 0, active: 2 }); // maxActive
    // u0 buys (what purchase.lua leaves): its slot goes to the next shopper, and the units left (2) cap the room.
    await redis.multi().decr(k.stock).hset(k.buyers, 'u0', 'order-0:1').exec();
    r = await room.admit(k, 100);
    expect(r).toMatchObject({ bought: 1, admitted: 1, active: 2, stock: 2 });
    // u1 buys: 1 unit left, held by u2's admission: nobody else is admitted.
    await redis.multi().decr(k.stock).hset(k.buyers, 'u1', 'order-1:1').exec();
    r = await room.admit(k, 100);
    expect(r).toMatchObject({ bought: 1, admitted: 0, active: 1, stock: 1 });
    // u2's admission expires unused: a no-show, and u3 takes the slot.
    await redis.zadd(k.passes, 1, 'u2');
    r = await room.admit(k, 100);
    expect(r).toMatchObject({ noShows: 1, admitted: 1, active: 1 });
    expect(await redis.zscore(k.passes, 'u3')).not.toBeNull();
    expect(await redis.hget(k.room, 'noShows')).toBe('1');
    // Sold out: nobody admitted, and joining is refused.
    await redis.multi().set(k.stock, 0).hset(k.buyers, 'u3', 'order-3:1').exec();
    r = await room.admit(k, 100);
    expect(r).toMatchObject({ code: AdmitCode.SOLD_OUT, admitted: 0, bought: 1 });
    expect((await room.join(k, 'u9', ticket())).code).toBe(RoomCode.SOLD_OUT);
  });

  it('paces admissions at admitPerSecond', async () => {
    const { k } = await setup({ stock: 1000, rate: 20 });
    await startNow(k);
    for (let i = 0; i < 200; i++) await room.join(k, `p${i}`, ticket());
    const t0 = Date.now();
    let admitted = 0;
    while (admitted < 40) admitted += (await room.admit(k, 1000)).admitted;
    // 40 at 20/s: the first pass may admit up to one second's worth, the rest takes at least 1 s more.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(admitted).toBe(40);
  });

  it('refuses bad ARGV and answers the join refusals', async () => {
    const { k } = await setup({ stock: 1 });
    await expect(room.join(k, 'a|b', ticket())).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(room.join(k, 'u', 'short')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(room.admit(k, -1)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await redis.hset(k.info, 'start', Date.now() + 3 * HOUR, 'end', Date.now() + 4 * HOUR);
    const early = await room.join(k, 'u', ticket());
    expect(early.code).toBe(RoomCode.NOT_OPEN);
    expect(early.opensAt).toBeGreaterThan(Date.now() + HOUR - 60_000);
    await redis.hset(k.info, 'room', '');
    expect((await room.join(k, 'u', ticket())).code).toBe(RoomCode.NO_ROOM);
    const none = activityKeys(prefix, 'nothing-here');
    expect((await room.join(none, 'u', ticket())).code).toBe(RoomCode.NOT_FOUND);
  });
});
