// A caller's `traceparent` cannot force tracing (issue 20, point 11): the seckill samples purchases by its
// own ratio whatever the caller's sampled flag says, so a client cannot make every request export spans.
// Tracing runs in this test's process (its own OpenTelemetry globals) and exports to the test's receiver.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { inSpan, startTracing } from '../../services/core/tracing.js';
import { liveActivity } from '../helpers/activity.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens } from '../helpers/env.js';
import { otlpReceiver } from '../helpers/otlp.js';
import { call, startSeckill, waitReady } from '../helpers/seckill.js';

const prefix = randomPrefix('sampling');
let redis: Redis;

beforeAll(() => {
  redis = newRedis();
});
afterAll(async () => {
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

it('traces no purchase at ratio 0, however many callers send a sampled traceparent', async () => {
  const r = await otlpReceiver();
  const tracing = startTracing('seckill', { otlpEndpoint: r.url, sampleRatio: 0 }, { contextManager: false });
  const s = await startSeckill(prefix);
  try {
    await waitReady(s.url);
    const a = await liveActivity(redis, prefix, { total: 100 });
    const traceIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const traceId = randomBytes(16).toString('hex');
      traceIds.push(traceId);
      const bought = await call(s.url, `/seckill/${a.name}`, {
        token: await tokens.sign({ userId: `t${i}`, role: 'user' }),
        body: {},
        headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      });
      expect(bought.status).toBe(202);
    }
    // A span of our own is the fence: the shutdown flushes everything ended before it.
    await inSpan('fence', () => Promise.resolve());
    await tracing.shutdown();
    expect(r.spans.some((sp) => sp.name === 'fence')).toBe(true);
    expect(r.spans.filter((sp) => traceIds.includes(sp.traceId))).toEqual([]);
    expect(r.spans.filter((sp) => sp.name === 'POST /seckill/:activity')).toEqual([]);
  } finally {
    await s.stop();
    r.server.close();
  }
});
