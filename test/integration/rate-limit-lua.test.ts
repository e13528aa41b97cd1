// lua/rate-limit.lua against the real Redis: GCRA's burst and spacing, all or nothing across the limits of
// one call, refused ARGV, keys that expire; and ClusterLimiter when Redis is cut or hangs: it decides in
// this process (fail open to the per-process limit, counted), never throws, never waits past its timeout.
import type { Redis } from 'ioredis';
import { createRegistry } from '../../services/core/metrics.js';
import { ClusterLimiter, RateLimitCode, rateLimitMetrics } from '../../services/core/rate-limit.js';
import { createRedis, closeRedis, type RedisClient } from '../../services/core/redis/client.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { dropRedisPrefix, newRedis, quietLog, randomPrefix, REDIS_URL, waitFor } from '../helpers/env.js';
import { FaultProxy } from '../helpers/proxy.js';

const prefix = randomPrefix('rl');
let redis: Redis;
let scripts: Scripts;
let seq = 0;
const keysOf = (): [string, string, string] => {
  const base = `${prefix}:{rl:test-${++seq}}`;
  return [`${base}:a`, `${base}:b`, `${base}:c`];
};

beforeAll(() => {
  redis = newRedis();
  scripts = new Scripts(redis);
});
afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

describe('lua/rate-limit.lua', () => {
  it('admits a burst of count, then one per period/count, and says how long to wait', async () => {
    const keys = keysOf();
    const argv = [4, 1000, 0, 1, 0, 1];
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push(await scripts.rateLimit(keys, argv));
    expect(codes.slice(0, 4).map((c) => c[0])).toEqual([1, 1, 1, 1]);
    const [code, limit, retryMs] = codes[4] as [number, number, number];
    expect([code, limit]).toEqual([RateLimitCode.LIMITED, 1]);
    // The next slot opens 250 ms (1000/4) after the first request, less the time already spent.
    expect(retryMs).toBeGreaterThan(0);
    expect(retryMs).toBeLessThanOrEqual(250);
    await waitFor(async () => (await scripts.rateLimit(keys, argv))[0] === 1, 'the next slot', 5000);
    const ttl = await redis.pttl(keys[0]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1000);
    // A limit that is off is never touched.
    expect(await redis.exists(keys[1], keys[2])).toBe(0);
  });

  it('is all or nothing: a refusal by one limit spends none of the others', async () => {
    const keys = keysOf();
    const argv = [10, 1000, 1, 60_000, 10, 1000];
    expect(await scripts.rateLimit(keys, argv)).toEqual([1, 0, 0]);
    const before = await redis.mget(...keys);
    const [code, limit, retryMs] = await scripts.rateLimit(keys, argv);
    expect([code, limit]).toEqual([RateLimitCode.LIMITED, 2]);
    expect(retryMs).toBeGreaterThan(55_000);
    expect(await redis.mget(...keys)).toEqual(before);
  });

  it.each([
    ['a negative count', ['-1', '1000', '0', '1', '0', '1']],
    ['a fraction', ['1.5', '1000', '0', '1', '0', '1']],
    ['a zero period', ['1', '0', '0', '1', '0', '1']],
    ['a period above a day', ['1', '86400001', '0', '1', '0', '1']],
    ['text', ['many', '1000', '0', '1', '0', '1']],
    ['a missing pair', ['1', '1000', '0', '1']],
  ])('refuses %s (INVALID) and writes nothing', async (_what, argv) => {
    const keys = keysOf();
    const r = await scripts.rateLimit(keys, argv as unknown as number[]);
    expect(r[0]).toBe(RateLimitCode.INVALID);
    expect(await redis.exists(...keys)).toBe(0);
  });
});

describe('ClusterLimiter', () => {
  it('remembers a cluster refusal until its retry time, so the pre-filter refuses without Redis', async () => {
    const metrics = rateLimitMetrics(createRegistry('test', false));
    const limiter = new ClusterLimiter({
      redis,
      scripts,
      prefix,
      scope: `screen-${++seq}`,
      limits: [{ name: 'per-user', count: 2, periodMs: 1000 }],
      timeoutMs: 1000,
      metrics,
      log: quietLog,
    });
    const where = async (w: string) =>
      (await metrics.refused.get()).values.find((v) => v.labels.where === w)?.value ?? 0;
    expect(limiter.screen(['u'])).toBeNull();
    expect([await limiter.take(['u']), await limiter.take(['u'])]).toEqual([null, null]);
    expect((await limiter.take(['u']))?.code).toBe('RATE_LIMITED');
    expect(await where('cluster')).toBe(1);
    // Another subject is not affected; this one is refused here until the slot opens (500 ms at 2/s).
    expect(limiter.screen(['v'])).toBeNull();
    expect(limiter.screen(['u'])?.retryAfter).toBe(1);
    expect(await where('local')).toBe(1);
    await waitFor(() => limiter.screen(['u']) === null, 'the slot opens', 5000);
    expect(await limiter.take(['u'])).toBeNull();
  });
});

describe('ClusterLimiter when Redis does not answer', () => {
  let proxy: FaultProxy;
  let client: RedisClient;
  beforeEach(async () => {
    proxy = await FaultProxy.forUrl(REDIS_URL).start();
    client = createRedis({ url: proxy.url(REDIS_URL), log: quietLog, name: 'rl-test' });
    await waitFor(() => client.status === 'ready', 'client ready');
  });
  afterEach(async () => {
    proxy.heal();
    // Closed once connected again: a disconnect while connecting leaves ioredis' connect timer behind.
    await waitFor(() => client.status === 'ready', 'client back');
    await closeRedis(client).catch(() => undefined);
    await proxy.stop();
  });

  function limiterOn(c: RedisClient, timeoutMs = 300) {
    const registry = createRegistry('test', false);
    const metrics = rateLimitMetrics(registry);
    const limiter = new ClusterLimiter({
      redis: c,
      scripts: new Scripts(c),
      prefix,
      scope: `outage-${++seq}`,
      limits: [{ name: 'per-user', count: 3, periodMs: 60_000 }],
      timeoutMs,
      metrics,
      log: quietLog,
    });
    const fallbacks = async () => (await metrics.fallbacks.get()).values.reduce((n, v) => n + v.value, 0);
    return { limiter, fallbacks };
  }

  it('decides in-process with the plain limit when the connection is cut', async () => {
    const { limiter, fallbacks } = limiterOn(client);
    expect(await limiter.take(['u'])).toBeNull();
    await proxy.cut();
    await waitFor(() => client.status !== 'ready', 'client sees the cut');
    const verdicts = [];
    for (let i = 0; i < 4; i++) verdicts.push(await limiter.take(['u']));
    expect(verdicts.slice(0, 3)).toEqual([null, null, null]);
    expect(verdicts[3]?.code).toBe('RATE_LIMITED');
    expect(await fallbacks()).toBe(4);
  });

  it('gives up on a hung Redis after its timeout, and counts it', async () => {
    const { limiter, fallbacks } = limiterOn(client, 300);
    proxy.stall();
    const started = Date.now();
    expect(await limiter.take(['u'])).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(await fallbacks()).toBe(1);
  });
});
