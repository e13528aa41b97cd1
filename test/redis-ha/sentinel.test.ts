// Sentinel failover against real servers started by the test: a master, a replica and three Sentinels;
// purchases through two seckill processes (the built service) while the master is SIGKILLed and Sentinel
// promotes the replica. Afterwards: no oversell, every 202 a row (the orders worker runs too), no row and
// no held unit for a 503, and the seckill answered only 202 or 503 UNAVAILABLE, none hung. The second
// case stalls the replica (SIGSTOP, and more stream than the socket buffers hold) before the kill, so the
// promoted replica misses the master's last writes: the replica barrier (REDIS_WAIT_REPLICAS=1) is what
// keeps every 202 then (with REDIS_WAIT_REPLICAS=0 in the environment this case fails).
import type { Redis } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { applyActivity } from '../../services/core/activity/apply.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { closeRedis, createRedis } from '../../services/core/redis/client.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { loadSeckillConfig } from '../../services/seckill/config.js';
import { ActivityCache } from '../../services/seckill/activity-cache.js';
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
const TOTAL = 100_000;

interface Stack {
  prefix: string;
  servers: RedisServers;
  group: SentinelGroup;
  pg: TestSchema;
  redis: Redis;
  worker: RunningOrders;
  seckills: BuiltSeckill[];
}

async function startStack(): Promise<Stack> {
  const prefix = randomPrefix('rsentinel');
  const servers = new RedisServers();
  const group = await startSentinelGroup(servers);
  const pg = await testSchema();
  const env = { ...group.env, DATABASE_SCHEMA: pg.schema, STAMPEDE_RETRY_TIERS_MS: FAST_TIERS };
  const redis = createRedis({ target: loadSeckillConfig(env).redis, log: quietLog, name: 'test' }) as Redis;
  await waitFor(() => redis.status === 'ready', 'sentinel client ready', 30_000);
  const worker = await startOrders(prefix, pg.schema, env);
  const seckills = [await spawnBuiltSeckill(prefix, env), await spawnBuiltSeckill(prefix, env)];
  return { prefix, servers, group, pg, redis, worker, seckills };
}

async function stopStack(s: Stack): Promise<void> {
  for (const k of s.seckills) k.child.kill('SIGKILL');
  await Promise.all(s.seckills.map((k) => k.exited));
  await s.worker.stop();
  await dropAmqpPrefix(s.prefix);
  await closeRedis(s.redis);
  await s.pg.drop();
  await s.servers.stop();
}

interface Answer {
  user: string;
  sent: number;
  at: number;
  status: number | string;
  code: string;
  orderId?: string;
}

/** Lanes of new shoppers alternating between the two seckills until stopped; 503s retry after 20 ms. */
function crowd(s: Stack, activity: string, lanes = 12) {
  const answers: Answer[] = [];
  let running = true;
  let next = 0;
  const lane = async (i: number) => {
    while (running) {
      const url = (s.seckills[i % 2] as BuiltSeckill).url;
      const user = `f-${next++}`;
      const token = await tokens.sign({ userId: user, role: 'user' });
      const sent = Date.now();
      try {
        const res = await fetch(`${url}/seckill/${activity}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
          signal: AbortSignal.timeout(HANG_MS),
        });
        const body = (await res.json()) as { code?: string; orderId?: string };
        answers.push({
          user,
          sent,
          at: Date.now(),
          status: res.status,
          code: body.code ?? '',
          orderId: body.orderId,
        });
        if (res.status === 503) await new Promise((r) => setTimeout(r, 20));
      } catch (err) {
        answers.push({ user, sent, at: Date.now(), status: String((err as Error).name), code: String(err) });
      }
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
  return {
    answers,
    accepted: () => answers.filter((a) => a.status === 202),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function liveActivity(s: Stack, stock = TOTAL, existing?: string): Promise<string> {
  const now = Date.now();
  const name = existing ?? `failover-${process.pid}-${now.toString(36)}-${stock}`;
  const spec = activitySpecSchema.parse({
    product: { sku: `SKU-${name}`, name: 'Failover product', price: '10.00' },
    stock,
    window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
    paymentWindow: '15m',
  });
  await applyActivity(s.pg.db, s.redis, s.prefix, name, spec);
  return name;
}

/** SIGKILL the master, wait for Sentinel's promotion, bring the old master back as the new one's replica. */
async function failOver(
  s: Stack,
  beforeKill?: () => Promise<void>,
): Promise<{ killedAt: number; promotedAt: number }> {
  const oldPort = s.group.master.port;
  await beforeKill?.();
  const killedAt = Date.now();
  await s.servers.kill(s.group.master, 'SIGKILL');
  if (beforeKill) s.group.replica.proc.kill('SIGCONT');
  const newPort = await waitFor(
    async () => {
      const p = await s.group.masterPort();
      return p !== oldPort && p;
    },
    'Sentinel promoting the replica',
    120_000,
  );
  const promotedAt = Date.now();
  // As a restarted pod would: the barrier has a replica to wait for again.
  await s.servers.start(oldPort, ['--replicaof', '127.0.0.1', String(newPort)]);
  return { killedAt, promotedAt };
}

/** The promises, once the pipeline is quiet. */
async function expectPromisesKept(s: Stack, activity: string, answers: Answer[]): Promise<void> {
  const shapes = new Set(answers.map((a) => `${a.status} ${a.code}`));
  expect([...shapes].filter((x) => x !== '202 ' && x !== '503 UNAVAILABLE')).toEqual([]);
  expect(answers.some((a) => a.status === 503)).toBe(true);
  const ids = answers.filter((a) => a.status === 202).map((a) => String(a.orderId));
  const k = activityKeys(s.prefix, activity);
  const quiet = async () =>
    (await ordersOf(s.pg.db, activity)).length === ids.length &&
    (await s.redis.hlen(k.buyers)) === ids.length;
  // Quiet: rows written, restores of 503'd purchases (re-sent after the reconnect) landed. A broken promise
  // never gets quiet; the checks below then say which one.
  await waitFor(quiet, 'rows and buyer entries = the 202s', 60_000).catch(() => undefined);
  const rows = await ordersOf(s.pg.db, activity);
  if (process.env.TEST_SECKILL_LOG) {
    const okIds = new Set(ids);
    for (const r of rows.filter((x) => !okIds.has(x.id)))
      console.log(
        'row without a 202',
        r,
        answers.filter((a) => a.user === r.user_id),
      );
    const entries = await s.redis.hgetall(k.buyers);
    for (const [u, v] of Object.entries(entries))
      if (!okIds.has(v.split(':')[0] as string))
        console.log(
          'buyer entry without a 202',
          u,
          v,
          answers.filter((a) => a.user === u),
        );
  }
  expect(rows.map((r) => r.id).sort()).toEqual([...ids].sort());
  const buyers = await s.redis.hgetall(k.buyers);
  expect(
    Object.values(buyers)
      .map((v) => v.split(':')[0])
      .sort(),
  ).toEqual([...ids].sort());
  expect(Number(await s.redis.get(k.stock)) + rows.length).toBe(TOTAL);
  const [act] = await s.pg.db.query<{ sold: number }>('SELECT sold FROM seckill_activities WHERE name = $1', {
    bind: [activity],
    type: QueryTypes.SELECT,
  });
  expect(act?.sold).toBe(rows.length);
}

function report(what: string, answers: Answer[], t: { killedAt: number; promotedAt: number }): void {
  const ok = answers.filter((a) => a.status === 202);
  const first = ok.find((a) => a.sent > t.killedAt) as Answer;
  let gap = 0;
  for (let i = 1; i < ok.length; i++) gap = Math.max(gap, (ok[i] as Answer).at - (ok[i - 1] as Answer).at);
  const slowest = Math.max(...answers.map((a) => a.at - a.sent));
  console.log(
    `sentinel failover (${what}): promotion observed ${((t.promotedAt - t.killedAt) / 1000).toFixed(2)} s ` +
      `after SIGKILL; first 202 of a purchase sent after the kill at +${((first.at - t.killedAt) / 1000).toFixed(2)} s; ` +
      `longest gap between 202s ${(gap / 1000).toFixed(2)} s; slowest answer ${(slowest / 1000).toFixed(2)} s; ` +
      `${ok.length} × 202, ${answers.filter((a) => a.status === 503).length} × 503`,
  );
}

it(
  'keeps every promise while Sentinel fails the master over under load',
  async () => {
    const s = await startStack();
    // A seckill's stock-event subscription, made before the failover (the built ones are out of reach).
    const sub = createRedis({ target: loadSeckillConfig(s.group.env).redis, log: quietLog, name: 'sub' });
    const events = new ActivityCache(s.redis, s.prefix, quietLog, 2000);
    try {
      await events.subscribe(sub);
      const activity = await liveActivity(s);
      const load = crowd(s, activity);
      await waitFor(() => load.accepted().length >= 100, '100 purchases before the failover', 60_000);
      const t = await failOver(s);
      await waitFor(
        () => load.accepted().filter((a) => a.sent > t.killedAt).length >= 100,
        '100 after',
        120_000,
      );
      await load.stop();
      report('replica in sync', load.answers, t);
      await expectPromisesKept(s, activity, load.answers);
      // The subscription followed the failover: a preheat on the new master reaches it.
      let heard = 0;
      const name = `after-${process.pid}-${Date.now().toString(36)}`;
      sub.on('message', (_ch: string, a: string) => void (a === name && heard++));
      await liveActivity(s, 10, name);
      await waitFor(() => heard === 1, 'the first preheat announced', 30_000);
      await events.load(name);
      expect(events.holds(name)).toBe(true);
      await liveActivity(s, 11, name);
      await waitFor(() => heard === 2 && !events.holds(name), 'the stock event of the new master', 30_000);
    } finally {
      await closeRedis(sub);
      await stopStack(s);
    }
  },
  T,
);

it(
  'keeps every 202 when the promoted replica missed the master’s last writes',
  async () => {
    const s = await startStack();
    try {
      const activity = await liveActivity(s);
      const load = crowd(s, activity);
      await waitFor(() => load.accepted().length >= 100, '100 purchases before the failover', 60_000);
      const t = await failOver(s, async () => {
        // The replica stalls, and the master's stream to it outgrows the loopback socket buffers: what
        // the master writes after the ballast never reaches the replica that will be promoted.
        s.group.replica.proc.kill('SIGSTOP');
        await s.group.master.client().set(`${s.prefix}:ballast`, 'x'.repeat(32 << 20));
        const stalledAt = Date.now();
        await waitFor(
          () => load.answers.filter((a) => a.sent > stalledAt + 600).length >= 50,
          'purchases while stalled',
          60_000,
        );
      });
      await waitFor(
        () => load.accepted().filter((a) => a.sent > t.killedAt).length >= 100,
        '100 after',
        120_000,
      );
      await load.stop();
      report('replica stalled', load.answers, t);
      await expectPromisesKept(s, activity, load.answers);
    } finally {
      await stopStack(s);
    }
  },
  T,
);
