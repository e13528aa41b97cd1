// Orders through the API with the real pipeline behind it (seckill, worker, Postgres, Redis, RabbitMQ):
// ownership (BOLA probes), pay, the signed payment webhook, JWT attacks and a bad-input sweep.
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { QueryTypes } from 'sequelize';
import { signWebhook } from '../../services/api/webhook.js';
import { ActivityIds, persistBatch } from '../../services/orders/persist.js';
import { keyId, TokenService } from '../../services/core/auth/jwt.js';
import { DEV_JWT_SECRET } from '../../services/core/config.js';
import { DEV_WEBHOOK_SECRET, loadApiConfig } from '../../services/api/config.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, waitFor } from '../helpers/env.js';
import { adminToken, newUser, startApi, type RunningApi } from '../helpers/api.js';
import { FAST_TIERS, startOrders, type RunningOrders } from '../helpers/orders.js';
import { call, startSeckill, waitReady, type Answer, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('apio');
let pg: TestSchema;
let redis: Redis;
let api: RunningApi;
let seckill: RunningSeckill;
let worker: RunningOrders;

beforeAll(async () => {
  pg = await testSchema();
  redis = newRedis();
  api = await startApi(prefix, pg.schema, { PAYMENT_SIMULATION: 'true' });
  seckill = await startSeckill(prefix, { STAMPEDE_RETRY_TIERS_MS: FAST_TIERS, DATABASE_SCHEMA: pg.schema });
  worker = await startOrders(prefix, pg.schema);
  await waitReady(seckill.url);
});
afterAll(async () => {
  await worker.stop();
  await seckill.stop();
  await api.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pg.drop();
});

function expectProblem(r: Answer, status: number, code: string): void {
  expect({ status: r.status, code: r.body.code }).toEqual({ status, code });
}

let sales = 0;
async function sale(over: Record<string, unknown> = {}): Promise<string> {
  const name = `apio-${++sales}-${Date.now()}`;
  const body = {
    product: { sku: `SKU-${name}`, name: 'Phone', price: '4999.00' },
    stock: 50,
    window: {
      start: new Date(Date.now() - 60_000).toISOString(),
      end: new Date(Date.now() + 3_600_000).toISOString(),
    },
    paymentWindow: '15m',
    ...over,
  };
  const r = await call(api.url, `/api/admin/activities/${name}`, {
    method: 'PUT',
    body,
    token: await adminToken(api.url),
  });
  expect(r.status).toBe(201);
  return name;
}

/** A shopper with an order: bought through seckill, persisted by the worker, seen through the API. */
async function shopperWithOrder(activity: string): Promise<{ token: string; orderId: string }> {
  const u = await newUser(api.url);
  const bought = await call(seckill.url, `/seckill/${activity}`, { token: u.accessToken, body: {} });
  expect(bought.status).toBe(202);
  const orderId = String(bought.body.orderId);
  await waitFor(
    async () => (await call(api.url, `/api/orders/${orderId}`, { token: u.accessToken })).status === 200,
    'the order in the API',
  );
  return { token: u.accessToken, orderId };
}

it('shows a shopper their own orders and lets them pay, idempotently', async () => {
  const activity = await sale();
  const { token, orderId } = await shopperWithOrder(activity);
  const list = await call(api.url, '/api/orders', { token });
  expect(list.body).toMatchObject({
    total: 1,
    items: [{ id: orderId, activity, quantity: 1, amount: '4999.00', status: 'pending_payment' }],
  });
  expect((await call(api.url, `/api/orders/${orderId}/pay`, { method: 'POST', token })).body).toEqual({
    status: 'paid',
  });
  expect((await call(api.url, `/api/orders/${orderId}/pay`, { method: 'POST', token })).body).toEqual({
    status: 'paid',
  });
  expect((await call(api.url, `/api/orders/${orderId}`, { token })).body).toMatchObject({
    status: 'paid',
    paidAt: expect.any(String),
  });
  expect((await call(seckill.url, `/seckill/${activity}/result`, { token })).body).toEqual({
    orderId,
    status: 'paid',
  });
  expectProblem(
    await call(api.url, `/api/orders/${orderId}/pay`, {
      method: 'POST',
      token,
      body: { status: 'paid', amount: '0.01' },
    }),
    400,
    'VALIDATION_FAILED',
  );
});

it('serves no simulated pay route unless PAYMENT_SIMULATION=true: 404, and the order stays unpaid', async () => {
  const activity = await sale();
  const { token, orderId } = await shopperWithOrder(activity);
  const plain = await startApi(prefix, pg.schema);
  try {
    expectProblem(
      await call(plain.url, `/api/orders/${orderId}/pay`, { method: 'POST', token }),
      404,
      'NOT_FOUND',
    );
    expect((await call(plain.url, `/api/orders/${orderId}`, { token })).body.status).toBe('pending_payment');
  } finally {
    await plain.stop();
  }
  expect(() => loadApiConfig({ PAYMENT_SIMULATION: 'yes' })).toThrow(/PAYMENT_SIMULATION/);
});

it('answers 409 ORDER_CLOSED to a payment after the timeout closed the order', async () => {
  const activity = await sale({ paymentWindow: '1s' });
  const { token, orderId } = await shopperWithOrder(activity);
  await waitFor(
    async () => (await call(api.url, `/api/orders/${orderId}`, { token })).body.status === 'closed',
    'the order closed',
  );
  expectProblem(
    await call(api.url, `/api/orders/${orderId}/pay`, { method: 'POST', token }),
    409,
    'ORDER_CLOSED',
  );
});

it('never lets one user read or pay another user’s order: hundreds of guessed ids are all 404', async () => {
  const activity = await sale();
  const victim = await shopperWithOrder(activity);
  const attacker = await newUser(api.url);
  const guesses = [
    victim.orderId,
    ...Array.from({ length: 150 }, () => uuidv7()),
    ...Array.from({ length: 100 }, () => uuidv4()),
    'not-a-uuid',
    '1',
    "' OR 1=1 --",
  ];
  for (const id of guesses) {
    const path = `/api/orders/${encodeURIComponent(id)}`;
    const read = await call(api.url, path, { token: attacker.accessToken });
    expectProblem(read, 404, 'NOT_FOUND');
    expect(read.body).not.toHaveProperty('activity');
    expectProblem(
      await call(api.url, `${path}/pay`, { method: 'POST', token: attacker.accessToken }),
      404,
      'NOT_FOUND',
    );
  }
  expect((await call(api.url, `/api/orders/${victim.orderId}`, { token: victim.token })).body.status).toBe(
    'pending_payment',
  );
  expect((await call(api.url, '/api/orders', { token: attacker.accessToken })).body).toMatchObject({
    total: 0,
    items: [],
  });
});

describe('payment webhook', () => {
  /** A provider's event for one of the sales above (priced 4999.00 in the default PAYMENT_CURRENCY). */
  const paid = (eventId: string, orderId: string, over: Record<string, unknown> = {}) =>
    JSON.stringify({
      eventId,
      type: 'payment.succeeded',
      orderId,
      amount: '4999.00',
      currency: 'CNY',
      ...over,
    });
  const post = (raw: string, signature?: string) =>
    call(api.url, '/api/payments/webhook', {
      raw,
      headers: signature ? { 'x-stampede-signature': signature } : {},
    });

  it('pays on a signed event, and a replay of the event is answered without acting again', async () => {
    const activity = await sale();
    const { token, orderId } = await shopperWithOrder(activity);
    const raw = paid(`evt-${orderId}`, orderId);
    const first = await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw));
    expect(first.body).toEqual({ eventId: `evt-${orderId}`, orderId, status: 'paid' });
    const replay = await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw));
    expect(replay.body).toEqual(first.body);
    expect((await call(api.url, `/api/orders/${orderId}`, { token })).body.status).toBe('paid');
  });

  it('refuses a bad, missing, stale or reused-body signature with 401 and changes nothing', async () => {
    const activity = await sale();
    const { token, orderId } = await shopperWithOrder(activity);
    const raw = paid(`evt-bad-${orderId}`, orderId);
    expectProblem(await post(raw), 401, 'UNAUTHORIZED');
    expectProblem(
      await post(raw, signWebhook('another-secret-that-is-long-enough-0000', raw)),
      401,
      'UNAUTHORIZED',
    );
    expectProblem(
      await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw, Math.floor(Date.now() / 1000) - 3600)),
      401,
      'UNAUTHORIZED',
    );
    const other = paid('evt-other', uuidv7());
    expectProblem(await post(raw, signWebhook(DEV_WEBHOOK_SECRET, other)), 401, 'UNAUTHORIZED');
    expect((await call(api.url, `/api/orders/${orderId}`, { token })).body.status).toBe('pending_payment');
  });

  it('answers 503 with Retry-After to a payment for an order not written yet, and applies it once the row exists', async () => {
    const activity = await sale();
    const u = await newUser(api.url);
    const order = {
      orderId: uuidv7(),
      activity,
      userId: u.id,
      quantity: 1,
      placedAt: new Date().toISOString(),
      requestId: 'early-webhook',
    };
    const raw = paid(`evt-early-${order.orderId}`, order.orderId);
    const early = await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw));
    expectProblem(early, 503, 'UNAVAILABLE');
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(0);
    // Nothing was stored for the event: a later delivery is judged afresh.
    const [stored] = await pg.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM payment_events WHERE order_id = $1',
      { bind: [order.orderId], type: QueryTypes.SELECT },
    );
    expect(stored?.n).toBe(0);
    // The worker writes the order (its own code path), then the provider retries.
    expect(await persistBatch(pg.db, new ActivityIds(pg.db), [order])).toEqual(['persisted']);
    const retried = await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw));
    expect(retried.body).toEqual({
      eventId: `evt-early-${order.orderId}`,
      orderId: order.orderId,
      status: 'paid',
    });
    expect((await call(api.url, `/api/orders/${order.orderId}`, { token: u.accessToken })).body.status).toBe(
      'paid',
    );
  });

  it('gives concurrent deliveries of one new event id one result and no 500', async () => {
    const activity = await sale();
    const { orderId } = await shopperWithOrder(activity);
    const raw = paid(`evt-race-${orderId}`, orderId);
    // Open the API's pooled connections first, so the deliveries really overlap in Postgres.
    await Promise.all(Array.from({ length: 10 }, () => api.api.db.query('SELECT pg_sleep(0.05)')));
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw))),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    for (const a of answers)
      expect(a.body).toEqual({ eventId: `evt-race-${orderId}`, orderId, status: 'paid' });
    const [stored] = await pg.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM payment_events WHERE event_id = $1',
      { bind: [`evt-race-${orderId}`], type: QueryTypes.SELECT },
    );
    expect(stored?.n).toBe(1);
  });

  it("refuses an event whose amount or currency is not the order's with 422, pays nothing and records it", async () => {
    const activity = await sale();
    const { token, orderId } = await shopperWithOrder(activity);
    const cases = [
      { eventId: `evt-cheap-${orderId}`, over: { amount: '0.01' }, amount: '0.01', currency: 'CNY' },
      { eventId: `evt-usd-${orderId}`, over: { currency: 'USD' }, amount: '4999.00', currency: 'USD' },
    ];
    for (const c of cases) {
      const raw = paid(c.eventId, orderId, c.over);
      expectProblem(await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw)), 422, 'PAYMENT_MISMATCH');
      // A redelivery is answered from the record, not judged (or paid) again.
      expectProblem(await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw)), 422, 'PAYMENT_MISMATCH');
    }
    for (const body of [
      paid('evt-no-amount', orderId, { amount: undefined }),
      paid('evt-f', orderId, { amount: 4999 }),
    ])
      expectProblem(await post(body, signWebhook(DEV_WEBHOOK_SECRET, body)), 400, 'VALIDATION_FAILED');
    expect((await call(api.url, `/api/orders/${orderId}`, { token })).body.status).toBe('pending_payment');
    const events = await pg.db.query<{ event_id: string; result: string; amount: string; currency: string }>(
      'SELECT event_id, result, amount, currency FROM payment_events WHERE order_id = $1 ORDER BY event_id',
      { bind: [orderId], type: QueryTypes.SELECT },
    );
    expect(events).toEqual(
      cases
        .map((c) => ({ event_id: c.eventId, result: 'mismatch', amount: c.amount, currency: c.currency }))
        .sort((a, b) => a.event_id.localeCompare(b.event_id)),
    );
    // The right amount still pays.
    const good = paid(`evt-good-${orderId}`, orderId, { amount: '4999' });
    expect((await post(good, signWebhook(DEV_WEBHOOK_SECRET, good))).body.status).toBe('paid');
  });

  it('acknowledges a payment for a closed order and flags it for a refund', async () => {
    const activity = await sale({ paymentWindow: '1s' });
    const { token, orderId } = await shopperWithOrder(activity);
    await waitFor(
      async () => (await call(api.url, `/api/orders/${orderId}`, { token })).body.status === 'closed',
      'the order closed',
    );
    const raw = paid(`evt-late-${orderId}`, orderId);
    expect((await post(raw, signWebhook(DEV_WEBHOOK_SECRET, raw))).body).toMatchObject({
      status: 'closed',
      action: 'refund',
    });
  });
});

describe('JWT attacks on the API', () => {
  const secret = new TextEncoder().encode('stampede-development-secret-change-me-0123456789');
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = () => Math.floor(Date.now() / 1000);
  const base = (s: SignJWT) => s.setSubject('u1').setIssuer('stampede').setIssuedAt();
  it.each([
    [
      'alg none',
      async () =>
        `${b64({ alg: 'none' })}.${b64({ sub: 'u1', role: 'admin', iss: 'stampede', aud: 'stampede', iat: now(), exp: now() + 60 })}.`,
    ],
    [
      'a wrong key',
      async () =>
        base(new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }))
          .setAudience('stampede')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('k'.repeat(40))),
    ],
    [
      'an expired token',
      async () =>
        base(new SignJWT({}))
          .setProtectedHeader({ alg: 'HS256' })
          .setAudience('stampede')
          .setIssuedAt(now() - 900)
          .setExpirationTime(now() - 10)
          .sign(secret),
    ],
    [
      'a wrong audience',
      async () =>
        base(new SignJWT({}))
          .setProtectedHeader({ alg: 'HS256' })
          .setAudience('elsewhere')
          .setExpirationTime('5m')
          .sign(secret),
    ],
    [
      'a tampered role',
      async () => {
        const [h, , s] = (
          await base(new SignJWT({ role: 'user' }))
            .setProtectedHeader({ alg: 'HS256' })
            .setAudience('stampede')
            .setExpirationTime('5m')
            .sign(secret)
        ).split('.');
        return `${h}.${b64({ sub: 'u1', role: 'admin', iss: 'stampede', aud: 'stampede', iat: now(), exp: now() + 60 })}.${s}`;
      },
    ],
  ])('refuses %s with 401', async (_what, make) => {
    const token = await make();
    expectProblem(await call(api.url, '/api/orders', { token }), 401, 'UNAUTHORIZED');
    expectProblem(
      await call(api.url, '/api/admin/activities/x', { method: 'PUT', token, body: {} }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('accepts only the canonical spelling of a valid signature', async () => {
    const token = await new TokenService(DEV_JWT_SECRET).sign({ userId: 'canon-1', role: 'user' });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const base = alphabet.indexOf(token.at(-1) as string) & ~3;
    const others = [0, 1, 2, 3]
      .map((i) => token.slice(0, -1) + (alphabet[base + i] as string))
      .filter((t) => t !== token);
    expect(others).toHaveLength(3);
    for (const t of others)
      expectProblem(await call(api.url, '/api/orders', { token: t }), 401, 'UNAUTHORIZED');
    expect((await call(api.url, '/api/orders', { token })).status).toBe(200);
  });

  it('rotates JWT_SECRET with JWT_SECRET_PREVIOUS: tokens carry a kid, the previous key verifies only its own', async () => {
    const next = 'the-rotated-jwt-secret-that-is-long-enough-0123';
    const oldToken = await new TokenService(DEV_JWT_SECRET).sign({ userId: 'rot-1', role: 'user' });
    expect(JSON.parse(Buffer.from(oldToken.split('.')[0] as string, 'base64url').toString())).toEqual({
      alg: 'HS256',
      typ: 'JWT',
      kid: keyId(DEV_JWT_SECRET),
    });
    // The old secret signing under the new key's id, and a stranger's key under the old id: both refused.
    const forge = (key: string, kid: string) =>
      new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'HS256', kid })
        .setSubject('rot-2')
        .setIssuer('stampede')
        .setAudience('stampede')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(key));
    const rotated = await startApi(prefix, pg.schema, {
      JWT_SECRET: next,
      JWT_SECRET_PREVIOUS: DEV_JWT_SECRET,
    });
    try {
      expect((await call(rotated.url, '/api/orders', { token: oldToken })).status).toBe(200);
      const fresh = await new TokenService(next).sign({ userId: 'rot-1', role: 'user' });
      expect((await call(rotated.url, '/api/orders', { token: fresh })).status).toBe(200);
      for (const t of [
        await forge(DEV_JWT_SECRET, keyId(next)),
        await forge('s'.repeat(40), keyId(DEV_JWT_SECRET)),
      ])
        expectProblem(await call(rotated.url, '/api/orders', { token: t }), 401, 'UNAUTHORIZED');
    } finally {
      await rotated.stop();
    }
    // Once the previous secret is dropped, its tokens stop working.
    const after = await startApi(prefix, pg.schema, { JWT_SECRET: next });
    try {
      expectProblem(await call(after.url, '/api/orders', { token: oldToken }), 401, 'UNAUTHORIZED');
    } finally {
      await after.stop();
    }
  });
});

it('answers random bad input on every route with a 4xx, never a 5xx', async () => {
  const u = await newUser(api.url);
  const admin = await adminToken(api.url);
  const routes: [string, string, string | undefined][] = [
    ['POST', '/api/auth/register', undefined],
    ['POST', '/api/auth/login', undefined],
    ['POST', '/api/auth/refresh', undefined],
    ['PUT', '/api/admin/activities/fuzz-sale', admin],
    ['POST', `/api/orders/${uuidv7()}/pay`, u.accessToken],
    ['POST', '/api/payments/webhook', undefined],
  ];
  const value = fc.oneof(
    fc.jsonValue(),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.constant('x'.repeat(40_000)),
    fc.record({
      email: fc.string({ unit: 'grapheme' }),
      password: fc.string({ unit: 'grapheme' }),
      role: fc.constant('admin'),
    }),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      value,
      fc.boolean(),
      async ([method, path, token], v, asJson) => {
        const raw = asJson || typeof v !== 'string' ? (JSON.stringify(v) ?? 'null') : v;
        const r = await call(api.url, path, { method, raw, ...(token ? { token } : {}) });
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
      },
    ),
    { numRuns: 300 },
  );
  for (const q of [
    '?page=-1',
    '?page=abc',
    '?pageSize=0',
    '?page=1&extra=1',
    '?status[]=live',
    `?page=${'9'.repeat(400)}`,
  ]) {
    const r = await call(api.url, `/api/activities${q}`);
    expect(r.status).toBe(400);
  }
});
