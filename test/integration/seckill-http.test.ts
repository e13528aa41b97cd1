// Every row of DESIGN §4 for the seckill service, against real Redis and RabbitMQ, each suite under its own
// STAMPEDE_PREFIX. Bad input must answer a 4xx problem+json and leave stock and buyers untouched.
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { preheat } from '../../services/core/activity/preheat.js';
import type { ActivityInfo } from '../../services/core/activity/spec.js';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { orderTopology } from '../../services/core/messaging/topology.js';
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
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('http');
let s: RunningSeckill;
let redis: Redis;
let conn: ChannelModel;
let ch: Channel;
let userSeq = 0;
const token = (userId = `user${++userSeq}`) => tokens.sign({ userId, role: 'user' });

beforeAll(async () => {
  redis = newRedis();
  s = await startSeckill(prefix);
  await waitReady(s.url);
  conn = await amqp.connect(AMQP_URL);
  ch = await conn.createChannel();
});
afterAll(async () => {
  await s.stop();
  await conn.close();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
});

async function snapshot(a: ActivityInfo) {
  const k = activityKeys(prefix, a.name);
  return { stock: await redis.get(k.stock), buyers: await redis.hgetall(k.buyers) };
}

function expectProblem(
  r: { status: number; body: Record<string, unknown>; headers: Headers },
  status: number,
  code: string,
) {
  expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({
    status,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
}

describe('POST /seckill/:activity', () => {
  it('accepts with 202 after the broker confirmed, and the message is queued', async () => {
    const a = await liveActivity(redis, prefix, { total: 5, maxPerUser: 2 });
    const r = await call(s.url, `/seckill/${a.name}`, {
      token: await token('buyer-1'),
      body: { quantity: 2 },
    });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({
      orderId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      activity: a.name,
      quantity: 2,
      status: 'queued',
    });
    expect(await snapshot(a)).toEqual({ stock: '3', buyers: { 'buyer-1': `${r.body.orderId}:2` } });
    const msg = await waitFor(async () => {
      for (;;) {
        const m = await ch.get(orderTopology(prefix).placedQueue, { noAck: true });
        if (m === false) return null;
        if (m.properties.messageId === r.body.orderId) return m;
      }
    }, 'the order.placed message');
    expect(JSON.parse(msg.content.toString())).toMatchObject({
      orderId: r.body.orderId,
      activity: a.name,
      userId: 'buyer-1',
      quantity: 2,
    });
    expect(msg.properties.headers?.['x-request-id']).toBe(r.headers.get('x-request-id'));
  });

  it('answers the same orderId to a repeat with the same Idempotency-Key, 409 without one', async () => {
    const a = await liveActivity(redis, prefix, { total: 5 });
    const t = await token();
    const headers = { 'idempotency-key': 'cart-42' };
    const first = await call(s.url, `/seckill/${a.name}`, { token: t, body: {}, headers });
    const again = await call(s.url, `/seckill/${a.name}`, { token: t, body: {}, headers });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body.orderId).toBe(first.body.orderId);
    const other = await call(s.url, `/seckill/${a.name}`, { token: t, body: {} });
    expectProblem(other, 409, 'ALREADY_PURCHASED');
    expect(other.body.orderId).toBe(first.body.orderId);
    expect((await snapshot(a)).stock).toBe('4');
  });

  it('accepts an empty body as quantity 1', async () => {
    const a = await liveActivity(redis, prefix, { total: 1 });
    const r = await call(s.url, `/seckill/${a.name}`, { method: 'POST', token: await token() });
    expect(r.status).toBe(202);
    expect(r.body.quantity).toBe(1);
  });

  it.each([
    ['NOT_STARTED', { startMs: Date.now() + 3_600_000, endMs: Date.now() + 7_200_000 }],
    ['ENDED', { startMs: Date.now() - 7_200_000, endMs: Date.now() - 3_600_000 }],
    ['NOT_STARTED', { paused: true }],
  ] as const)('refuses with 409 %s outside an open sale', async (code, over) => {
    const a = await liveActivity(redis, prefix, { total: 3, ...over });
    const before = await snapshot(a);
    expectProblem(await call(s.url, `/seckill/${a.name}`, { token: await token(), body: {} }), 409, code);
    expect(await snapshot(a)).toEqual(before);
  });

  it('refuses a quantity above maxPerUser with 409 LIMIT_EXCEEDED', async () => {
    const a = await liveActivity(redis, prefix, { total: 10, maxPerUser: 2 });
    expectProblem(
      await call(s.url, `/seckill/${a.name}`, { token: await token(), body: { quantity: 3 } }),
      409,
      'LIMIT_EXCEEDED',
    );
    expect((await snapshot(a)).stock).toBe('10');
  });

  it('sells out, answers SOLD_OUT, and sells again on every process once a unit comes back', async () => {
    const other = await startSeckill(prefix);
    try {
      const a = await liveActivity(redis, prefix, { total: 1 });
      const won = await call(s.url, `/seckill/${a.name}`, { token: await token('winner'), body: {} });
      expect(won.status).toBe(202);
      for (const url of [s.url, other.url]) {
        expectProblem(
          await call(url, `/seckill/${a.name}`, { token: await token(), body: {} }),
          409,
          'SOLD_OUT',
        );
      }
      // Give the unit back as a payment timeout would: both processes must sell it again.
      await new Scripts(redis).restore(
        activityKeys(prefix, a.name),
        'winner',
        String(won.body.orderId),
        stockEventsChannel(prefix),
        a.name,
      );
      const again = await waitFor(async () => {
        const r = await call(other.url, `/seckill/${a.name}`, { token: await token(), body: {} });
        return r.status === 202 ? r : null;
      }, 'a sale after the unit came back');
      expect(again.status).toBe(202);
    } finally {
      await other.stop();
    }
  });

  it('answers 404 ACTIVITY_NOT_FOUND for unknown and impossible activity names', async () => {
    expectProblem(
      await call(s.url, '/seckill/no-such-sale', { token: await token(), body: {} }),
      404,
      'ACTIVITY_NOT_FOUND',
    );
    expectProblem(
      await call(s.url, '/seckill/NOT_A_NAME!', { token: await token(), body: {} }),
      404,
      'ACTIVITY_NOT_FOUND',
    );
  });

  it('answers 503 UNAVAILABLE with Retry-After when the stock is not preheated', async () => {
    const a = await liveActivity(redis, prefix, { total: 2 });
    await redis.del(activityKeys(prefix, a.name).stock);
    const r = await call(s.url, `/seckill/${a.name}`, { token: await token(), body: {} });
    expectProblem(r, 503, 'UNAVAILABLE');
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await redis.exists(activityKeys(prefix, a.name).stock)).toBe(0);
  });
});

describe('bad input changes nothing', () => {
  let a: ActivityInfo;
  beforeAll(async () => {
    a = await liveActivity(redis, prefix, { total: 5, maxPerUser: 3 });
  });
  afterEach(async () => {
    expect(await snapshot(a)).toEqual({ stock: '5', buyers: {} });
  });

  it.each([
    ['malformed JSON', { raw: '{"quantity": 1' }],
    ['a negative quantity', { body: { quantity: -1 } }],
    ['a zero quantity', { body: { quantity: 0 } }],
    ['a fractional quantity', { body: { quantity: 1.5 } }],
    ['a string quantity', { body: { quantity: '1' } }],
    ['a huge quantity', { body: { quantity: 1e12 } }],
    ['an unknown field', { body: { quantity: 1, price: '0.01' } }],
    ['an array body', { body: [1] }],
    [
      'a non-JSON body',
      { raw: 'quantity=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    ],
    ['a bad Idempotency-Key', { body: {}, headers: { 'idempotency-key': 'x'.repeat(200) } }],
  ])('400 VALIDATION_FAILED for %s', async (_what, init) => {
    expectProblem(
      await call(s.url, `/seckill/${a.name}`, { token: await token(), ...init }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('413 for a 1 MB body', async () => {
    const r = await call(s.url, `/seckill/${a.name}`, {
      token: await token(),
      raw: JSON.stringify({ pad: 'x'.repeat(1 << 20) }),
    });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe('VALIDATION_FAILED');
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  const secret = new TextEncoder().encode('stampede-development-secret-change-me-0123456789');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ['no token', async () => undefined],
    ['garbage', async () => 'not.a.jwt'],
    [
      'alg none',
      async () =>
        `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1', iss: 'stampede', aud: 'stampede', exp: now() + 60, iat: now() })}.`,
    ],
    [
      'a wrong key',
      async () =>
        new SignJWT({ role: 'user' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u1')
          .setIssuer('stampede')
          .setAudience('stampede')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('x'.repeat(48))),
    ],
    [
      'an expired token',
      async () =>
        new SignJWT({ role: 'user' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u1')
          .setIssuer('stampede')
          .setAudience('stampede')
          .setIssuedAt(now() - 600)
          .setExpirationTime(now() - 60)
          .sign(secret),
    ],
    [
      'a wrong audience',
      async () =>
        new SignJWT({ role: 'user' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u1')
          .setIssuer('stampede')
          .setAudience('other')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(secret),
    ],
    [
      'HS512 instead of HS256',
      async () =>
        new SignJWT({ role: 'user' })
          .setProtectedHeader({ alg: 'HS512' })
          .setSubject('u1')
          .setIssuer('stampede')
          .setAudience('stampede')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(secret),
    ],
  ])('401 UNAUTHORIZED for %s', async (_what, make) => {
    const t = await make();
    const r = await call(s.url, `/seckill/${a.name}`, {
      body: {},
      ...(t ? { headers: { authorization: `Bearer ${t}` } } : {}),
    });
    expectProblem(r, 401, 'UNAUTHORIZED');
  });
});

describe('rate limits', () => {
  it('answers 429 RATE_LIMITED with Retry-After past the per-user limit', async () => {
    const limited = await startSeckill(prefix, { SECKILL_RATE_PER_USER: '2' });
    try {
      const a = await liveActivity(redis, prefix, { total: 0 });
      const t = await token();
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => call(limited.url, `/seckill/${a.name}`, { token: t, body: {} })),
      );
      // At most two one-second windows are crossed, so at most four get through.
      const refused = answers.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(2);
      for (const r of refused) {
        expectProblem(r, 429, 'RATE_LIMITED');
        expect(r.headers.get('retry-after')).toBe('1');
      }
    } finally {
      await limited.stop();
    }
  });

  it('limits per client IP, honouring TRUST_PROXY_HOPS', async () => {
    const limited = await startSeckill(prefix, { SECKILL_RATE_PER_IP: '1', TRUST_PROXY_HOPS: '1' });
    try {
      const a = await liveActivity(redis, prefix, { total: 0 });
      const from = (ip: string) => ({ 'x-forwarded-for': ip });
      const ips = ['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2'];
      const codes = await Promise.all(
        ips.map(
          async (ip) =>
            (
              await call(limited.url, `/seckill/${a.name}`, {
                token: await token(),
                body: {},
                headers: from(ip),
              })
            ).body.code,
        ),
      );
      expect(codes.slice(0, 4).filter((c) => c === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(2);
      expect(codes[4]).toBe('SOLD_OUT');
    } finally {
      await limited.stop();
    }
  });
});

describe('GET /seckill/:activity/stock and /result', () => {
  it('reports total, remaining and status', async () => {
    const a = await liveActivity(redis, prefix, { total: 7 });
    expect((await call(s.url, `/seckill/${a.name}/stock`)).body).toEqual({
      activity: a.name,
      total: 7,
      remaining: 7,
      status: 'live',
    });
    const soon = await liveActivity(redis, prefix, { total: 2, startMs: Date.now() + 60_000 });
    expect((await call(s.url, `/seckill/${soon.name}/stock`)).body.status).toBe('upcoming');
    const gone = await call(s.url, '/seckill/missing-sale/stock');
    expectProblem(gone, 404, 'ACTIVITY_NOT_FOUND');
  });

  it('tells a buyer their order, and 404 NOT_PURCHASED to anyone else', async () => {
    const a = await liveActivity(redis, prefix, { total: 2 });
    const t = await token('result-user');
    const bought = await call(s.url, `/seckill/${a.name}`, { token: t, body: {} });
    expect((await call(s.url, `/seckill/${a.name}/result`, { token: t })).body).toEqual({
      orderId: bought.body.orderId,
      status: 'queued',
    });
    expectProblem(
      await call(s.url, `/seckill/${a.name}/result`, { token: await token() }),
      404,
      'NOT_PURCHASED',
    );
    expectProblem(await call(s.url, `/seckill/${a.name}/result`), 401, 'UNAUTHORIZED');
  });
});

describe('health, readiness, metrics', () => {
  it('serves /healthz, /readyz and /metrics with the purchase series', async () => {
    expect((await call(s.url, '/healthz')).status).toBe(200);
    expect((await call(s.url, '/readyz')).body).toEqual({ status: 'ready' });
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toMatch(/stampede_purchase_requests_total\{activity="[^"]+",outcome="accepted"/);
    expect(text).toMatch(/stampede_purchase_duration_seconds_bucket/);
    expect(text).toMatch(/stampede_stock_remaining\{activity="/);
    expect(text).not.toMatch(/activity="no-such-sale"/);
  });

  it('preheat during a sale is seen by the hot path', async () => {
    const a = await liveActivity(redis, prefix, { total: 0 });
    expectProblem(
      await call(s.url, `/seckill/${a.name}`, { token: await token(), body: {} }),
      409,
      'SOLD_OUT',
    );
    await preheat(redis, prefix, { ...a, total: 1 });
    const r = await waitFor(async () => {
      const x = await call(s.url, `/seckill/${a.name}`, { token: await token(), body: {} });
      return x.status === 202 ? x : null;
    }, 'stock added by preheat to be sold');
    expect(r.status).toBe(202);
  });
});
