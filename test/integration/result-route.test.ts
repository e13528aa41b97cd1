// `GET /seckill/:activity/result` against the real services: rate-limited per user like the purchase, and a
// queued order answered from Redis alone. The seckill reaches Postgres through the fault proxy, whose tap counts the bytes, so
// the test sees whether polling a queued order sends Postgres anything at all.
import type { Redis } from 'ioredis';
import { testSchema, type TestSchema } from '../helpers/db.js';
import {
  DATABASE_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  randomPrefix,
  tokens,
  waitFor,
} from '../helpers/env.js';
import { applyLive, FAST_TIERS, startOrders } from '../helpers/orders.js';
import { FaultProxy } from '../helpers/proxy.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('result');
let pg: TestSchema;
let redis: Redis;
let relay: FaultProxy;
/** Bytes the seckill sent Postgres (through the fault proxy's tap). */
let bytesToPostgres = 0;
let seckill: RunningSeckill;

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
  relay = await FaultProxy.forUrl(DATABASE_URL).start();
  relay.tap = (toServer, chunk) => {
    if (toServer) bytesToPostgres += chunk.length;
  };
  const url = relay.url(DATABASE_URL);
  seckill = await startSeckill(prefix, {
    STAMPEDE_RETRY_TIERS_MS: FAST_TIERS,
    DATABASE_SCHEMA: pg.schema,
    DATABASE_URL: url,
    SECKILL_RATE_PER_USER: '5',
  });
  await waitReady(seckill.url);
});
afterAll(async () => {
  await seckill.stop();
  await relay.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pg.drop();
});

it('answers a queued order from Redis without a Postgres query, and the written order from Postgres', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 5 });
  const token = await tokens.sign({ userId: 'poller-1', role: 'user' });
  const bought = await call(seckill.url, `/seckill/${a.name}`, { token, body: {} });
  expect(bought.status).toBe(202);
  // No worker yet: the order is queued. Polling it (within the rate limit) sends Postgres nothing.
  const before = bytesToPostgres;
  for (let i = 0; i < 4; i++) {
    const r = await call(seckill.url, `/seckill/${a.name}/result`, { token });
    if (r.status === 429) continue;
    expect(r.body).toEqual({ orderId: bought.body.orderId, status: 'queued' });
  }
  expect(bytesToPostgres - before).toBe(0);

  const worker = await startOrders(prefix, pg.schema);
  try {
    const written = await waitFor(async () => {
      const r = await call(seckill.url, `/seckill/${a.name}/result`, { token });
      return r.body.status === 'pending_payment' ? r.body : null;
    }, 'the result to come from Postgres');
    expect(written).toEqual({ orderId: bought.body.orderId, status: 'pending_payment' });
    expect(bytesToPostgres).toBeGreaterThan(before);
  } finally {
    await worker.stop();
  }
});

it('limits each user’s result polls like the purchase, without limiting anybody else', async () => {
  const a = await applyLive(pg.db, redis, prefix, { stock: 5 });
  const greedy = await tokens.sign({ userId: 'greedy-1', role: 'user' });
  const polls = await Promise.all(
    Array.from({ length: 40 }, () => call(seckill.url, `/seckill/${a.name}/result`, { token: greedy })),
  );
  const limited = polls.filter((r) => r.status === 429);
  expect(limited.length).toBeGreaterThan(0);
  for (const r of limited) {
    expect(r.body.code).toBe('RATE_LIMITED');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  }
  expect(polls.filter((r) => r.status !== 429).map((r) => r.body.code)).toEqual(
    Array(40 - limited.length).fill('NOT_PURCHASED'),
  );
  const other = await tokens.sign({ userId: 'patient-1', role: 'user' });
  expect((await call(seckill.url, `/seckill/${a.name}/result`, { token: other })).body.code).toBe(
    'NOT_PURCHASED',
  );
});
