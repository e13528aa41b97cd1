// The waiting room through the real seckill, orders worker, Redis, RabbitMQ and Postgres: positions that
// anyone can recompute from the revealed seed, one place per user, admissions that buy, a sold-out sale
// that tells every waiting shopper at once, no-shows whose slots go on, a payment timeout that admits the
// next shopper, and the admitter's lease moving when its holder is killed, nobody admitted twice or skipped.
import { createHash } from 'node:crypto';
import type { ActivitySpecInput } from '../../services/core/activity/spec.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import {
  FAST_TIERS,
  applyLive,
  expectInvariants,
  ordersOf,
  startPipeline,
  type Pipeline,
} from '../helpers/orders.js';
import { spawnBuiltSeckill, type BuiltSeckill } from '../helpers/redis-servers.js';
import { randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { call, type Answer } from '../helpers/seckill.js';

const HOUR = 3_600_000;
const prefix = randomPrefix('room');
let p: Pipeline;
const jwt = (userId: string) => tokens.sign({ userId, role: 'user' });

beforeAll(async () => {
  p = await startPipeline(prefix, { SECKILL_QUEUE_TICK_MS: '20', SECKILL_QUEUE_STATUS_MS: '50' });
});
afterAll(async () => {
  await p?.stop();
});

const room = (over: Record<string, unknown> = {}) => ({
  waitingRoom: {
    enabled: true,
    opensBefore: '2h',
    admitPerSecond: 1000,
    maxActive: 1000,
    admissionTtl: '1m',
    ...over,
  },
});

/** A sale whose pre-queue is open and whose start is an hour ahead. */
async function upcoming(over: Partial<ActivitySpecInput>) {
  const now = Date.now();
  const window = { start: new Date(now + HOUR).toISOString(), end: new Date(now + 2 * HOUR).toISOString() };
  return applyLive(p.pg.db, p.redis, prefix, { preheat: { leadTime: '3h' }, window, ...room(), ...over });
}

/** The same sale, started now (an SRE moving the start: the preheat announces it to every process). */
async function startNow(name: string, over: Partial<ActivitySpecInput>) {
  const key = activityKeys(prefix, name);
  const total = Number(await p.redis.hget(key.info, 'total'));
  const now = Date.now();
  const window = { start: new Date(now - 1000).toISOString(), end: new Date(now + HOUR).toISOString() };
  const { applyActivity } = await import('../../services/core/activity/apply.js');
  const { activitySpecSchema } = await import('../../services/core/activity/spec.js');
  const spec = activitySpecSchema.parse({
    product: { sku: `SKU-${name}`, name: 'Test product', price: '10.00' },
    stock: total,
    paymentWindow: '15m',
    preheat: { leadTime: '3h' },
    window,
    ...room(),
    ...over,
  });
  await applyActivity(p.pg.db, p.redis, prefix, name, spec);
}

const join = async (name: string, user: string) =>
  call(p.seckill.url, `/seckill/${name}/queue`, { method: 'POST', token: await jwt(user) });
const me = async (name: string, user: string) =>
  call(p.seckill.url, `/seckill/${name}/queue/me`, { token: await jwt(user) });
const buy = async (name: string, user: string, token: string) =>
  call(p.seckill.url, `/seckill/${name}`, {
    method: 'POST',
    token: await jwt(user),
    headers: { 'purchase-token': token },
  });
const stateOf = async (name: string, user: string) => (await me(name, user)).body.state;

async function admitted(name: string, user: string): Promise<Answer> {
  return waitFor(
    async () => {
      const r = await me(name, user);
      return r.body.state === 'admitted' ? r : null;
    },
    `${user} admitted`,
    30_000,
  );
}

describe('waiting room', () => {
  it('publishes positions anyone can recompute from the seed; one place per user; later joiners behind in order', async () => {
    const a = await upcoming({ stock: 500 });
    const users = Array.from({ length: 300 }, (_, i) => `early-${i}`);
    const tickets = new Map<string, string>();
    for (let i = 0; i < users.length; i += 50) {
      await Promise.all(
        users.slice(i, i + 50).map(async (u) => {
          const r = await join(a.name, u);
          expect(r.status).toBe(200);
          expect(r.body.state).toBe('pre-queue');
          expect(r.body.position).toBeUndefined(); // not drawn before the start
          expect(r.body.userId).toBeUndefined(); // the documented status only
          tickets.set(u, r.body.ticket as string);
        }),
      );
    }
    const twice = await Promise.all([
      join(a.name, 'early-3'),
      join(a.name, 'early-3'),
      join(a.name, 'early-3'),
    ]);
    for (const r of twice) expect(r.body.ticket).toBe(tickets.get('early-3'));
    const before = await call(p.seckill.url, `/seckill/${a.name}/queue`);
    expect(before.body).toMatchObject({ state: 'pre-queue', preQueue: 300 });
    expect(before.body.seed).toBeUndefined();
    expect((await call(p.seckill.url, `/seckill/${a.name}/queue/draw`)).status).toBe(409);

    // A slow admitter keeps everyone waiting long enough to read the positions.
    await startNow(a.name, { stock: 500, ...room({ admitPerSecond: 1, maxActive: 1 }) });
    for (const u of ['late-0', 'late-1']) expect((await join(a.name, u)).status).toBe(200);
    const draw = (
      await waitFor(async () => {
        const r = await call(p.seckill.url, `/seckill/${a.name}/queue/draw`);
        return r.status === 200 ? r : null;
      }, 'the draw')
    ).body as { seed: string; commitment: string; tickets: string[] };
    expect(createHash('sha256').update(draw.seed).digest('hex')).toBe(draw.commitment);
    expect(before.body.commitment).toBe(draw.commitment);
    const score = (t: string) =>
      BigInt(
        `0x${createHash('sha1')
          .update(draw.seed + t)
          .digest('hex')
          .slice(0, 13)}`,
      );
    const order = [...draw.tickets].sort((x, y) =>
      score(x) < score(y) ? -1 : score(x) > score(y) ? 1 : x < y ? -1 : 1,
    );
    expect(new Set(draw.tickets)).toEqual(new Set(tickets.values()));
    const byTicket = new Map([...tickets].map(([u, t]) => [t, u]));
    const expected = [...order.map((t) => byTicket.get(t) as string), 'late-0', 'late-1'];
    // Position = the place in that order counted from the head, for every shopper (the head moves at 1/s).
    const headOf = async () => Number((await call(p.seckill.url, `/seckill/${a.name}/queue`)).body.admitted);
    let checked = 0;
    for (const [i, u] of expected.entries()) {
      if (i % 25 !== 0 && i < expected.length - 2) continue;
      const head = await headOf();
      const r = await me(a.name, u);
      if (r.body.state !== 'waiting') continue; // admitted meanwhile (or this process' summary not yet drawn)
      checked++;
      expect(Number(r.body.position)).toBeGreaterThanOrEqual(i + 1 - head - 1);
      expect(Number(r.body.position)).toBeLessThanOrEqual(i + 1 - head + 1);
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    const first = await admitted(a.name, expected[0] as string);
    expect(
      (await buy(a.name, expected[0] as string, (first.body.admission as { token: string }).token)).status,
    ).toBe(202);
  }, 120_000);

  it('admits as units allow, tells every waiting shopper sold out at once, and refuses new joins', async () => {
    const a = await upcoming({ stock: 3 });
    const users = Array.from({ length: 10 }, (_, i) => `so-${i}`);
    for (const u of users) expect((await join(a.name, u)).status).toBe(200);
    await startNow(a.name, { stock: 3 });
    const accepted = new Set<string>();
    // Only three are admitted (one unit each), however many slots are free; the rest wait.
    await waitFor(async () => {
      const states = await Promise.all(users.map((u) => stateOf(a.name, u)));
      const admittedNow = states.filter((s) => s === 'admitted').length;
      return admittedNow === 3 && states.filter((s) => s === 'waiting').length === 7;
    }, 'three admitted, seven waiting');
    for (const u of users) {
      const r = await me(a.name, u);
      if (r.body.state !== 'admitted') continue;
      const b = await buy(a.name, u, (r.body.admission as { token: string }).token);
      expect(b.status).toBe(202);
      accepted.add(b.body.orderId as string);
    }
    await waitFor(async () => {
      const states = await Promise.all(users.map((u) => stateOf(a.name, u)));
      return (
        states.filter((s) => s === 'sold_out').length === 7 &&
        states.filter((s) => s === 'purchased').length === 3
      );
    }, 'the room told sold out');
    const j = await join(a.name, 'so-late');
    expect({ status: j.status, code: j.body.code }).toEqual({ status: 409, code: 'SOLD_OUT' });
    await waitFor(async () => (await ordersOf(p.pg.db, a.name)).length === 3, 'three rows');
    await expectInvariants(p.pg.db, p.redis, prefix, a, accepted);
  }, 60_000);

  it('gives a no-show slot to the next shopper, and a payment timeout admits the next one', async () => {
    const a = await upcoming({ stock: 1, paymentWindow: '2s' });
    for (const u of ['ns-0', 'ns-1', 'ns-2']) expect((await join(a.name, u)).status).toBe(200);
    await startNow(a.name, { stock: 1, paymentWindow: '2s', ...room({ maxActive: 1, admissionTtl: '6s' }) });
    // The line once drawn: the first is admitted (no position any more), the others wait behind it.
    const places = await waitFor(async () => {
      const r = await Promise.all(
        ['ns-0', 'ns-1', 'ns-2'].map(async (u) => ({ u, s: (await me(a.name, u)).body })),
      );
      const drawn = r.every((x) => x.s.state === 'admitted' || x.s.state === 'waiting');
      return drawn && r.filter((x) => x.s.state === 'admitted').length === 1 ? r : null;
    }, 'the line drawn');
    const rank = (x: { s: Record<string, unknown> }) => (x.s.state === 'admitted' ? 0 : Number(x.s.position));
    const [firstU, secondU, thirdU] = places.sort((x, y) => rank(x) - rank(y)).map((x) => x.u) as [
      string,
      string,
      string,
    ];
    // Admitted (the admission is on record), and it never buys.
    await waitFor(
      async () => p.redis.hexists(activityKeys(prefix, a.name).admits, firstU),
      `${firstU} admitted`,
    );
    // The first never buys: after its admission expires it is a no-show and the second is admitted.
    const second = await admitted(a.name, secondU);
    expect(await stateOf(a.name, firstU)).toBe('expired');
    const b = await buy(a.name, secondU, (second.body.admission as { token: string }).token);
    expect(b.status).toBe(202);
    // The last unit is held by an unpaid order: the third waits (sold out) until the payment window closes
    // the order, the unit comes back, and the third is admitted and buys it.
    const third = await admitted(a.name, thirdU);
    const c = await buy(a.name, thirdU, (third.body.admission as { token: string }).token);
    expect(c.status).toBe(202);
  }, 60_000);
});

describe('the admitter lease', () => {
  const procs: BuiltSeckill[] = [];
  afterAll(async () => {
    for (const s of procs) s.child.kill('SIGKILL');
    await Promise.all(procs.map((s) => s.exited));
  });

  it('moves to another process when its holder is killed: nobody admitted twice, nobody skipped', async () => {
    // Only built processes compete for this room: the suite's in-process seckill stops admitting.
    await p.seckill.seckill.closers.find((c) => c.name === 'admitter')?.close();
    const a = await upcoming({ stock: 1000 });
    const key = activityKeys(prefix, a.name);
    const users = Array.from({ length: 300 }, (_, i) => `lease-${i}`);
    for (const u of users) expect((await join(a.name, u)).status).toBe(200);
    const env = {
      DATABASE_SCHEMA: p.pg.schema,
      SECKILL_QUEUE_TICK_MS: '20',
      STAMPEDE_RETRY_TIERS_MS: FAST_TIERS,
    };
    const first = await spawnBuiltSeckill(prefix, env);
    procs.push(first);
    await startNow(a.name, { stock: 1000, ...room({ admitPerSecond: 10 }) });
    const holder = await waitFor(async () => {
      const h = await p.redis.get(key.roomLease);
      return h && (await p.redis.hget(key.room, 'admitted')) ? h : null;
    }, 'a holder admitting');
    expect(holder.startsWith(`seckill-${first.child.pid}-`)).toBe(true);
    const second = await spawnBuiltSeckill(prefix, env);
    procs.push(second);
    first.child.kill('SIGKILL');
    const atKill = Number(await p.redis.hget(key.room, 'admitted'));
    await waitFor(
      async () => {
        const h = await p.redis.get(key.roomLease);
        const moved = h?.startsWith(`seckill-${second.child.pid}-`);
        return moved && Number(await p.redis.hget(key.room, 'admitted')) >= atKill + 20;
      },
      'another holder admitting',
      30_000,
    );
    const queue = await p.redis.zrange(key.queue, 0, -1);
    const admits = await p.redis.hgetall(key.admits);
    const count = Number(await p.redis.hget(key.room, 'admitted'));
    expect(Object.keys(admits)).toHaveLength(count); // nobody twice
    expect(count + queue.length).toBe(users.length); // nobody lost
    const tickets = await p.redis.hgetall(key.members);
    // Nobody skipped: everyone still waiting was behind everyone admitted.
    const draw = (await p.redis.hgetall(key.room)).seed as string;
    const pos = (u: string) =>
      BigInt(
        `0x${createHash('sha1')
          .update(draw + tickets[u])
          .digest('hex')
          .slice(0, 13)}`,
      );
    const admittedMax = Object.keys(admits).reduce((m, u) => (pos(u) > m ? pos(u) : m), 0n);
    for (const t of queue) {
      const u = users.find((x) => tickets[x] === t) as string;
      expect(pos(u) > admittedMax).toBe(true);
    }
  }, 90_000);
});
