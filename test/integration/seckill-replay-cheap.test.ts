// Keyed requests after a sell-out stay cheap and replays of persisted orders publish nothing (issue 20,
// point 9). The storefront sends an Idempotency-Key with every purchase: after the sell-out a keyed
// shopper already told SOLD_OUT by the script is answered from memory, a token sale's nonce set grows only
// with purchases, and a replay of an order the worker already took answers 202 without a new message.
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { payOrder } from '../../services/core/orders/pay.js';
import { orderTopology, ROUTING } from '../../services/core/messaging/topology.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { liveActivity } from '../helpers/activity.js';
import {
  AMQP_URL,
  REDIS_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  randomPrefix,
  tokens,
  waitFor,
} from '../helpers/env.js';
import { applyLive, ordersOf, startPipeline } from '../helpers/orders.js';
import { FaultProxy } from '../helpers/proxy.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

let n = 0;
const user = async () => {
  const id = `c${++n}`;
  return { id, jwt: await tokens.sign({ userId: id, role: 'user' }) };
};
const buy = (s: RunningSeckill, activity: string, jwt: string, headers: Record<string, string> = {}) =>
  call(s.url, `/seckill/${activity}`, { token: jwt, body: {}, headers });

describe('after the sell-out', () => {
  const prefix = randomPrefix('cheap');
  let redis: Redis;
  let proxy: FaultProxy;
  let s: RunningSeckill;
  let scripts = 0;
  beforeAll(async () => {
    redis = newRedis();
    proxy = await FaultProxy.forUrl(REDIS_URL).start();
    proxy.tap = (toServer, chunk) => {
      if (toServer) scripts += chunk.toString('latin1').match(/\bevalsha\b|\beval\b/gi)?.length ?? 0;
    };
    s = await startSeckill(prefix, { REDIS_URL: proxy.url(REDIS_URL) });
    await waitReady(s.url);
  });
  afterAll(async () => {
    await s.stop();
    await proxy.stop();
    await dropAmqpPrefix(prefix);
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  it('answers a keyed shopper the script told SOLD_OUT from memory, and still replays the winner', async () => {
    const a = await liveActivity(redis, prefix, { total: 1 });
    const winner = await user();
    const won = await buy(s, a.name, winner.jwt, { 'idempotency-key': 'w-1' });
    expect(won.status).toBe(202);
    const loser = await user();
    expect((await buy(s, a.name, loser.jwt, { 'idempotency-key': 'l-1' })).body.code).toBe('SOLD_OUT');
    const before = scripts;
    for (let i = 0; i < 20; i++) {
      const r = await buy(s, a.name, loser.jwt, { 'idempotency-key': `l-${i % 3}` });
      expect(r.body.code).toBe('SOLD_OUT');
    }
    expect(scripts - before).toBe(0);
    // The winner's retry still reaches the script, which answers its order again.
    const again = await buy(s, a.name, winner.jwt, { 'idempotency-key': 'w-1' });
    expect({ status: again.status, orderId: again.body.orderId }).toEqual({
      status: 202,
      orderId: won.body.orderId,
    });
  });

  it('grows the nonce set of a token sale only with purchases, not with sold-out attempts', async () => {
    const a = await liveActivity(redis, prefix, {
      total: 1,
      purchaseToken: { challenge: 'none', difficulty: 1 },
    });
    const tokenFor = async (jwt: string) =>
      String(
        (await call(s.url, `/seckill/${a.name}/token`, { method: 'POST', token: jwt, body: {} })).body.token,
      );
    const winner = await user();
    const bought = await buy(s, a.name, winner.jwt, {
      'idempotency-key': 'w',
      'purchase-token': await tokenFor(winner.jwt),
    });
    expect(bought.status).toBe(202);
    const spent = activityKeys(prefix, a.name).tokens;
    expect(await redis.scard(spent)).toBe(1);
    // Many shoppers, each retrying with a fresh token under their key as the storefront does.
    for (let i = 0; i < 5; i++) {
      const shopper = await user();
      for (let j = 0; j < 3; j++) {
        const r = await buy(s, a.name, shopper.jwt, {
          'idempotency-key': `k-${i}`,
          'purchase-token': await tokenFor(shopper.jwt),
        });
        expect(r.body.code).toBe('SOLD_OUT');
      }
    }
    expect(await redis.scard(spent)).toBe(1);
  });
});

describe('a replay of a persisted order', () => {
  const prefix = randomPrefix('persisted');
  it('answers 202 with its orderId and publishes no order.placed again (15 replays of a paid order)', async () => {
    const p = await startPipeline(prefix);
    const conn = await amqp.connect(AMQP_URL);
    try {
      const a = await applyLive(p.pg.db, p.redis, prefix, { stock: 5 });
      const buyer = await user();
      const first = await buy(p.seckill, a.name, buyer.jwt, { 'idempotency-key': 'paid-intent' });
      expect(first.status).toBe(202);
      const orderId = String(first.body.orderId);
      await waitFor(async () => (await ordersOf(p.pg.db, a.name)).length === 1, 'the row');
      await payOrder(p.pg.db, orderId, buyer.id);

      // A queue of the test's own on the exchange sees every order.placed published from now on.
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.bindQueue(queue, orderTopology(prefix).exchange, ROUTING.placed);
      const seen: string[] = [];
      await ch.consume(queue, (m) => m && seen.push(String(JSON.parse(m.content.toString()).orderId)), {
        noAck: true,
      });

      for (let i = 0; i < 15; i++) {
        const r = await buy(p.seckill, a.name, buyer.jwt, { 'idempotency-key': 'paid-intent' });
        expect({ status: r.status, orderId: r.body.orderId }).toEqual({ status: 202, orderId });
      }
      // A fresh purchase's message is the fence: one channel's messages reach the queue in order.
      const fence = await buy(p.seckill, a.name, (await user()).jwt);
      expect(fence.status).toBe(202);
      await waitFor(() => seen.includes(String(fence.body.orderId)), 'the fence message');
      expect(seen.filter((id) => id === orderId)).toHaveLength(0);
      expect((await ordersOf(p.pg.db, a.name)).find((r) => r.id === orderId)?.status).toBe('paid');
    } finally {
      await conn.close();
      await p.stop();
    }
  });
});
