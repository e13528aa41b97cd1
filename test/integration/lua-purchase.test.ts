// Property test of lua/purchase.lua and lua/restore.lua against the real Redis: random stock, users,
// limits and concurrent requests with repeats, replays (same orderId re-sent, as ioredis does after a
// reconnect), key replays (a retry, also after a sell-out) and restores. Invariants: a restore after an
// answered key replay gives nothing back; never oversold, never over maxPerUser, one entry per accepted
// request, stock + held = initial. The rebuild from Postgres (activity/rebuild.ts) is checked the same way:
// after a loss, earlier buyers stay buyers, rebuilt orders cannot be restored, only the free units sell.
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { v7 as uuidv7 } from 'uuid';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { rebuildRedis } from '../../services/core/activity/rebuild.js';
import { PreheatCode, PurchaseCode, RestoreCode, Scripts } from '../../services/core/redis/scripts.js';
import { liveActivity } from '../helpers/activity.js';
import { dropRedisPrefix, newRedis, randomPrefix } from '../helpers/env.js';

const op = fc.record({
  user: fc.integer({ min: 0, max: 11 }),
  quantity: fc.integer({ min: 1, max: 4 }),
  kind: fc.constantFrom('fresh', 'replay', 'idem', 'restore'),
});

describe('purchase.lua under random concurrent load', () => {
  let redis: Redis;
  const prefix = randomPrefix('lua');
  beforeAll(() => {
    redis = newRedis();
  });
  afterAll(async () => {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  it('never oversells, never exceeds maxPerUser, keeps stock + held = initial', async () => {
    const scripts = new Scripts(redis);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.array(op, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
        async (stock, maxPerUser, waves) => {
          const a = await liveActivity(redis, prefix, { total: stock, maxPerUser });
          const k = activityKeys(prefix, a.name);
          const accepted = new Map<string, { user: string; quantity: number }>();
          const lastOrder = new Map<string, string>();
          const kept = new Set<string>();
          for (const wave of waves) {
            // One wave runs concurrently: Redis serialises the scripts, the test sees arbitrary interleavings.
            await Promise.all(
              wave.map(async (o) => {
                const user = `u${o.user}`;
                const prev = lastOrder.get(user);
                if (o.kind === 'restore') {
                  if (!prev) return;
                  const r = await scripts.restore(k, user, prev, stockEventsChannel(prefix), a.name);
                  if (r.code === RestoreCode.RESTORED) {
                    // A key replay may have been answered 202 on some pod: its unit never comes back.
                    expect(kept.has(prev)).toBe(false);
                    accepted.delete(prev);
                  } else if (r.code === RestoreCode.KEPT) {
                    expect(kept.has(prev) && accepted.has(prev)).toBe(true);
                  } else expect(r.code).toBe(RestoreCode.NOT_HELD);
                  return;
                }
                const orderId = o.kind === 'replay' && prev ? prev : uuidv7();
                const r = await scripts.purchase(
                  k,
                  user,
                  orderId,
                  o.quantity,
                  o.kind === 'idem' ? `k-${user}` : '',
                );
                expect(r.remaining).toBeGreaterThanOrEqual(0);
                if (r.code === PurchaseCode.ACCEPTED) {
                  expect(r.orderId).toBe(orderId);
                  expect(o.quantity).toBeLessThanOrEqual(maxPerUser);
                  accepted.set(orderId, { user, quantity: o.quantity });
                  lastOrder.set(user, orderId);
                } else if (r.code === PurchaseCode.REPLAYED) {
                  expect(accepted.has(r.orderId)).toBe(true);
                  // A retry under the accepted purchase's key: the same order whatever the stock is now.
                  if (r.orderId !== orderId) kept.add(r.orderId);
                } else {
                  expect([
                    PurchaseCode.SOLD_OUT,
                    PurchaseCode.ALREADY_PURCHASED,
                    PurchaseCode.LIMIT_EXCEEDED,
                  ]).toContain(r.code);
                }
              }),
            );
          }
          const buyers = await redis.hgetall(k.buyers);
          const remaining = Number(await redis.get(k.stock));
          const held = Object.values(buyers).map((v) => Number(v.split(':')[1]));
          expect(remaining).toBeGreaterThanOrEqual(0);
          expect(remaining + held.reduce((s, q) => s + q, 0)).toBe(stock);
          for (const q of held) expect(q).toBeLessThanOrEqual(maxPerUser);
          // Every accepted (and not restored) request holds exactly one entry, and no entry is unaccounted.
          expect(Object.keys(buyers).length).toBe(accepted.size);
          for (const [orderId, { user, quantity }] of accepted)
            expect(buyers[user]).toBe(`${orderId}:${quantity}`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rebuilds from Postgres: earlier buyers stay buyers, rebuilt orders stand, stock + held = total', async () => {
    const scripts = new Scripts(redis);
    const row = fc.record({ quantity: fc.integer({ min: 1, max: 3 }), live: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(
        // Orders that Postgres holds for users r0…: some live, some closed or failed (unit given back).
        fc.array(row, { maxLength: 10 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(op, { minLength: 1, maxLength: 24 }),
        async (rows, spare, ops) => {
          const orders = rows.map((r, i) => ({ userId: `r${i}`, orderId: uuidv7(), ...r }));
          const liveHeld = orders.reduce((s, o) => s + (o.live ? o.quantity : 0), 0);
          const total = liveHeld + spare;
          const a = await liveActivity(redis, prefix, { total: 0, maxPerUser: 3 });
          const k = activityKeys(prefix, a.name);
          // The state is lost, then rebuilt from the rows.
          await redis.del(k.stock, k.info, k.buyers, k.idem, k.claimed, k.released);
          const r = await rebuildRedis(redis, prefix, { ...a, total }, orders);
          expect(r).toEqual({
            code: liveHeld > 0 ? PreheatCode.REBUILT : PreheatCode.CREATED,
            remaining: spare,
            total,
          });
          const fresh = new Map<string, number>();
          await Promise.all(
            ops.map(async (o) => {
              const rebuilt = orders[o.user % Math.max(1, orders.length)];
              if (o.kind === 'restore' && rebuilt) {
                // A rebuilt order is persisted: a restore can never take its unit back.
                const x = await scripts.restore(
                  k,
                  rebuilt.userId,
                  rebuilt.orderId,
                  stockEventsChannel(prefix),
                  a.name,
                );
                expect(x.code).toBe(RestoreCode.CLAIMED);
                return;
              }
              const earlier = o.kind === 'replay' && rebuilt;
              const user = earlier ? rebuilt.userId : `n${o.user}`;
              const p = await scripts.purchase(k, user, uuidv7(), o.quantity);
              if (earlier) {
                expect({ code: p.code, orderId: p.orderId }).toEqual({
                  code: PurchaseCode.ALREADY_PURCHASED,
                  orderId: rebuilt.orderId,
                });
              } else if (p.code === PurchaseCode.ACCEPTED) fresh.set(user, o.quantity);
            }),
          );
          const remaining = Number(await redis.get(k.stock));
          const freshHeld = [...fresh.values()].reduce((s, q) => s + q, 0);
          expect(remaining).toBeGreaterThanOrEqual(0);
          expect(remaining + freshHeld + liveHeld).toBe(total);
          // The worker may write a live rebuilt order again (a redelivery), never a closed one.
          if (orders.length) {
            const claims = await scripts.claim(k, orders);
            expect(claims).toEqual(orders.map((o) => o.live));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('answers the same orderId to a replay and takes nothing twice', async () => {
    const scripts = new Scripts(redis);
    const a = await liveActivity(redis, prefix, { total: 3, maxPerUser: 2 });
    const k = activityKeys(prefix, a.name);
    const id = uuidv7();
    const first = await scripts.purchase(k, 'u1', id, 2);
    const again = await scripts.purchase(k, 'u1', id, 2);
    expect(first).toEqual({ code: PurchaseCode.ACCEPTED, orderId: id, remaining: 1, quantity: 2 });
    expect(again).toEqual({ code: PurchaseCode.REPLAYED, orderId: id, remaining: 1, quantity: 2 });
    const other = await scripts.purchase(k, 'u1', uuidv7(), 1);
    expect(other.code).toBe(PurchaseCode.ALREADY_PURCHASED);
    expect(other.orderId).toBe(id);
  });

  it('reads a missing stock key as "not preheated", never as zero', async () => {
    const scripts = new Scripts(redis);
    const a = await liveActivity(redis, prefix, { total: 5 });
    const k = activityKeys(prefix, a.name);
    await redis.del(k.stock);
    const r = await scripts.purchase(k, 'u1', uuidv7(), 1);
    expect(r.code).toBe(PurchaseCode.NOT_PREHEATED);
    expect(await redis.exists(k.stock)).toBe(0);
    const missing = await scripts.purchase(activityKeys(prefix, 'nope'), 'u1', uuidv7(), 1);
    expect(missing.code).toBe(PurchaseCode.NOT_FOUND);
  });

  it('restores exactly once and only the order that holds the entry', async () => {
    const scripts = new Scripts(redis);
    const a = await liveActivity(redis, prefix, { total: 2 });
    const k = activityKeys(prefix, a.name);
    const ch = stockEventsChannel(prefix);
    const id = uuidv7();
    await scripts.purchase(k, 'u1', id, 1);
    expect((await scripts.restore(k, 'u1', uuidv7(), ch, a.name)).code).toBe(RestoreCode.NOT_HELD);
    expect(await scripts.restore(k, 'u1', id, ch, a.name)).toEqual({
      code: RestoreCode.RESTORED,
      remaining: 2,
    });
    expect((await scripts.restore(k, 'u1', id, ch, a.name)).code).toBe(RestoreCode.NOT_HELD);
    expect(await redis.get(k.stock)).toBe('2');
  });
});
