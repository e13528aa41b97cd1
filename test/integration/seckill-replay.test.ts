// A 202 is never undone: a retry with the Idempotency-Key of an accepted purchase answers 202 with the same
// order whatever the sale's state now is, and once a replay was answered no pod's late restore takes the
// unit back; every request settles exactly once, also when one process publishes the same order twice.
import type { Redis } from 'ioredis';
import { preheat } from '../../services/core/activity/preheat.js';
import type { ActivityInfo } from '../../services/core/activity/spec.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { liveActivity } from '../helpers/activity.js';
import {
  AMQP_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  randomPrefix,
  tokens,
  waitFor,
} from '../helpers/env.js';
import { FaultProxy } from '../helpers/proxy.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('replay');
let redis: Redis;
let n = 0;
const user = async () => {
  const id = `r${++n}`;
  return { id, token: await tokens.sign({ userId: id, role: 'user' }) };
};
const buy = (s: RunningSeckill, a: ActivityInfo, token: string, key?: string) =>
  call(s.url, `/seckill/${a.name}`, {
    token,
    body: {},
    ...(key ? { headers: { 'idempotency-key': key } } : {}),
  });
const entryOf = async (a: ActivityInfo, userId: string) =>
  (await redis.hget(activityKeys(prefix, a.name).buyers, userId))?.split(':')[0] ?? null;

beforeAll(() => {
  redis = newRedis();
});
afterAll(async () => {
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

describe('replay before every memory answer', () => {
  let s: RunningSeckill;
  beforeAll(async () => {
    s = await startSeckill(prefix);
    await waitReady(s.url);
  });
  afterAll(() => s.stop());

  it('answers the same 202 after the sale sold out, was paused and ended', async () => {
    const a = await liveActivity(redis, prefix, { total: 1 });
    const u = await user();
    const first = await buy(s, a, u.token, 'intent-1');
    expect(first.status).toBe(202);
    const other = await user();
    // The sold-out answer (and the in-process flag it sets).
    expect((await buy(s, a, other.token)).body.code).toBe('SOLD_OUT');
    expect((await buy(s, a, other.token)).body.code).toBe('SOLD_OUT');
    const again = await buy(s, a, u.token, 'intent-1');
    expect({ status: again.status, orderId: again.body.orderId }).toEqual({
      status: 202,
      orderId: first.body.orderId,
    });

    await preheat(redis, prefix, { ...a, paused: true });
    await waitFor(
      async () => (await buy(s, a, other.token)).body.detail === 'the sale is paused',
      'the pause',
    );
    const paused = await buy(s, a, u.token, 'intent-1');
    expect({ status: paused.status, orderId: paused.body.orderId }).toEqual({
      status: 202,
      orderId: first.body.orderId,
    });

    const now = Date.now();
    await preheat(redis, prefix, { ...a, paused: false, startMs: now - 7_200_000, endMs: now - 3_600_000 });
    await waitFor(async () => (await buy(s, a, other.token)).body.code === 'ENDED', 'the end');
    const ended = await buy(s, a, u.token, 'intent-1');
    expect({ status: ended.status, orderId: ended.body.orderId }).toEqual({
      status: 202,
      orderId: first.body.orderId,
    });
    // Another key is another intent: refused as before.
    expect((await buy(s, a, u.token, 'intent-2')).body.code).toBe('ALREADY_PURCHASED');
  });
});

describe('no late restore after a 202 elsewhere', () => {
  it('a pod whose confirm is late cannot take back the unit another pod answered 202 for', async () => {
    const proxy = await FaultProxy.forUrl(AMQP_URL).start();
    // A: its broker hangs, so its confirm arrives after the shopper's retry was answered by B.
    const podA = await startSeckill(prefix, {
      AMQP_URL: proxy.url(AMQP_URL),
      SECKILL_PUBLISH_TIMEOUT_MS: '10000',
    });
    const podB = await startSeckill(prefix);
    try {
      await Promise.all([waitReady(podA.url), waitReady(podB.url)]);
      const a = await liveActivity(redis, prefix, { total: 5 });
      const u = await user();
      proxy.stall();
      const late = buy(podA, a, u.token, 'intent-x');
      const x = await waitFor(() => entryOf(a, u.id), 'pod A to take the unit');
      const retry = await buy(podB, a, u.token, 'intent-x');
      expect({ status: retry.status, orderId: retry.body.orderId }).toEqual({ status: 202, orderId: x });
      // A's timeout fires now: it saw no confirm, so 503, but the unit B answered for stays taken.
      const lateAnswer = await late;
      expect({ status: lateAnswer.status, code: lateAnswer.body.code }).toEqual({
        status: 503,
        code: 'UNAVAILABLE',
      });
      expect(await entryOf(a, u.id)).toBe(x);
      expect(await redis.get(activityKeys(prefix, a.name).stock)).toBe('4');
    } finally {
      proxy.heal();
      await Promise.all([podA.stop(), podB.stop()]);
      await proxy.stop();
    }
  });

  it('one process publishing the same order twice settles each request once', async () => {
    const proxy = await FaultProxy.forUrl(AMQP_URL).start();
    const s = await startSeckill(prefix, {
      AMQP_URL: proxy.url(AMQP_URL),
      SECKILL_PUBLISH_TIMEOUT_MS: '1500',
    });
    try {
      await waitReady(s.url);
      const a = await liveActivity(redis, prefix, { total: 5 });
      const u = await user();
      proxy.stall();
      const first = buy(s, a, u.token, 'intent-y');
      const y = await waitFor(() => entryOf(a, u.id), 'the first request to take the unit');
      const second = buy(s, a, u.token, 'intent-y');
      // Both confirms hang: each request gets its own 503 after its own timeout (none is left hanging).
      const bounded = <T>(p: Promise<T>) =>
        Promise.race([
          p,
          new Promise<never>((_, r) => setTimeout(() => r(new Error('no answer in 20 s')), 20_000)),
        ]);
      const answers = await Promise.all([bounded(first), bounded(second)]);
      expect(answers.map((r) => r.body.code)).toEqual(['UNAVAILABLE', 'UNAVAILABLE']);
      // The replay was answered, so no restore took the unit: the shopper's next retry gets the same order.
      expect(await entryOf(a, u.id)).toBe(y);
      proxy.heal();
      await waitFor(
        async () => (await buy(s, a, u.token, 'intent-y')).status === 202,
        'a retry to be accepted',
      );
      expect((await buy(s, a, u.token, 'intent-y')).body.orderId).toBe(y);
    } finally {
      proxy.heal();
      await s.stop();
      await proxy.stop();
    }
  });
});
