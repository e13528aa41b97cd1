// Sentinel failover against real servers started by the test: a master, a replica and three Sentinels;
// purchases through two seckill processes (the built service) while the master is SIGKILLed and Sentinel
// promotes the replica. Afterwards: no oversell, every 202 a row (the orders worker runs too), no row and
// no held unit for a 503, and the seckill answered only 202, 409 SOLD_OUT or 503 UNAVAILABLE, each in time.
import type { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { applyActivity } from '../../services/core/activity/apply.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { closeRedis, createRedis } from '../../services/core/redis/client.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { loadSeckillConfig } from '../../services/seckill/config.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, quietLog, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { FAST_TIERS, ordersOf, startOrders, type RunningOrders } from '../helpers/orders.js';
import {
  RedisServers,
  spawnBuiltSeckill,
  startSentinelGroup,
  type BuiltSeckill,
  type SentinelGroup,
} from '../helpers/redis-servers.js';

/** Generous bounds for a busy 2-core machine; they only stop a failing test. */
const T = 300_000;
/** A request not answered within this long is a hang (the seckill's own bounds are 1 s Redis, 2 s AMQP). */
const HANG_MS = 10_000;

const prefix = randomPrefix('rsentinel');
const servers = new RedisServers();
let group: SentinelGroup;
let pg: TestSchema;
let redis: Redis;
let worker: RunningOrders;
const seckills: BuiltSeckill[] = [];

beforeAll(async () => {
  group = await startSentinelGroup(servers);
  pg = await testSchema();
  const env = { ...group.env, DATABASE_SCHEMA: pg.schema, STAMPEDE_RETRY_TIERS_MS: FAST_TIERS };
  redis = createRedis({ target: loadSeckillConfig(env).redis, log: quietLog, name: 'test' }) as Redis;
  await waitFor(() => redis.status === 'ready', 'sentinel client ready', 30_000);
  worker = await startOrders(prefix, pg.schema, env);
  seckills.push(await spawnBuiltSeckill(prefix, env), await spawnBuiltSeckill(prefix, env));
}, T);
afterAll(async () => {
  for (const s of seckills) s.child.kill('SIGKILL');
  await Promise.all(seckills.map((s) => s.exited));
  await worker?.stop();
  await dropAmqpPrefix(prefix);
  if (redis) await closeRedis(redis);
  await pg?.drop();
  await servers.stop();
}, T);

interface Answer {
  sent: number;
  at: number;
  status: number | string;
  code: string;
  orderId?: string;
}

it(
  'keeps every promise while Sentinel fails the master over under load',
  async () => {
    const now = Date.now();
    const name = `failover-${process.pid}-${now.toString(36)}`;
    const total = 100_000;
    const spec = activitySpecSchema.parse({
      product: { sku: `SKU-${name}`, name: 'Failover product', price: '10.00' },
      stock: total,
      window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
      paymentWindow: '15m',
    });
    await applyActivity(pg.db, redis, prefix, name, spec);

    const answers: Answer[] = [];
    let running = true;
    let next = 0;
    let killedAt = 0;
    const lane = async (lane: number) => {
      while (running) {
        const s = seckills[lane % 2] as (typeof seckills)[number];
        const user = `f-${next++}`;
        const token = await tokens.sign({ userId: user, role: 'user' });
        const sent = Date.now();
        try {
          const res = await fetch(`${s.url}/seckill/${name}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: '{}',
            signal: AbortSignal.timeout(HANG_MS),
          });
          const body = (await res.json()) as { code?: string; orderId?: string };
          answers.push({
            sent,
            at: Date.now(),
            status: res.status,
            code: body.code ?? '',
            orderId: body.orderId,
          });
          // A shopper told 503 retries after a moment, as Retry-After asks.
          if (res.status === 503) await new Promise((r) => setTimeout(r, 20));
        } catch (err) {
          answers.push({ sent, at: Date.now(), status: String((err as Error).name), code: String(err) });
        }
      }
    };
    const accepted = () => answers.filter((a) => a.status === 202);
    const load = Promise.all(Array.from({ length: 12 }, (_, i) => lane(i)));

    await waitFor(() => accepted().length >= 100, '100 purchases before the failover', 60_000);
    const oldPort = group.master.port;
    killedAt = Date.now();
    await servers.kill(group.master, 'SIGKILL');
    const newPort = await waitFor(
      async () => {
        const p = await group.masterPort();
        return p !== oldPort && p;
      },
      'Sentinel promoting the replica',
      120_000,
    );
    const promotedAt = Date.now();
    // The killed master comes back as a replica of the new one (as a restarted pod would), so the barrier
    // (REDIS_WAIT_REPLICAS=1) has a replica to wait for again.
    await servers.start(oldPort, ['--replicaof', '127.0.0.1', String(newPort)]);
    const afterKill = () => accepted().filter((a) => a.sent > killedAt);
    await waitFor(() => afterKill().length >= 100, '100 purchases after the failover', 120_000);
    running = false;
    await load;

    const firstAfter = afterKill()[0] as Answer;
    let longestGap = 0;
    const ok = accepted();
    for (let i = 1; i < ok.length; i++)
      longestGap = Math.max(longestGap, (ok[i] as Answer).at - (ok[i - 1] as Answer).at);
    const count = (f: (a: Answer) => boolean) => answers.filter(f).length;
    console.log(
      [
        `sentinel failover: promotion observed ${((promotedAt - killedAt) / 1000).toFixed(2)} s after SIGKILL`,
        `first 202 of a purchase sent after the kill at +${((firstAfter.at - killedAt) / 1000).toFixed(2)} s`,
        `slowest answer ${(Math.max(...answers.map((a) => a.at - a.sent)) / 1000).toFixed(2)} s`,
        `longest gap between 202s ${(longestGap / 1000).toFixed(2)} s`,
        `answers: ${ok.length} × 202, ${count((a) => a.status === 503)} × 503, ${answers.length} in all`,
      ].join('; '),
    );

    // Only promised answers, never a 500 or a hang.
    const shapes = new Set(answers.map((a) => `${a.status} ${a.code}`));
    expect([...shapes].filter((s) => s !== '202 ' && s !== '503 UNAVAILABLE')).toEqual([]);
    expect(count((a) => a.status === 503)).toBeGreaterThan(0);

    // Every 202 a row, no row without one.
    const ids = ok.map((a) => String(a.orderId));
    await waitFor(async () => (await ordersOf(pg.db, name)).length >= ids.length, 'every 202 a row', 120_000);
    const k = activityKeys(prefix, name);
    // Quiet: restores of 503'd purchases (re-sent after the reconnect) have landed on the new master.
    await waitFor(
      async () => Number(await redis.hlen(k.buyers)) === ids.length,
      'buyer entries = accepted purchases',
      120_000,
    );
    const rows = await ordersOf(pg.db, name);
    expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
    // No oversell and every 503'd unit back: Redis remaining + live orders = total, Postgres agrees.
    const remaining = Number(await redis.get(k.stock));
    expect(remaining + rows.length).toBe(total);
    const [act] = await pg.db.query<{ sold: number }>('SELECT sold FROM seckill_activities WHERE name = $1', {
      bind: [name],
      type: QueryTypes.SELECT,
    });
    expect(act?.sold).toBe(rows.length);
    const buyers = await redis.hgetall(k.buyers);
    expect(
      Object.values(buyers)
        .map((v) => v.split(':')[0])
        .sort(),
    ).toEqual([...ids].sort());
  },
  T,
);
