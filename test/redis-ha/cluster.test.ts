// Redis Cluster mode against three real masters started by the test: ten activities spread over the slots
// sell exactly their stock through the seckill (and become exactly that many rows through the worker),
// stock events published by scripts on any node reach a subscription held on one node, scripts load on
// each node again after SCRIPT FLUSH, a purchase after one activity's slot was moved follows MOVED, and a
// waiting room on each master admits and sells exactly its units.
import { Cluster } from 'ioredis';
import { QueryTypes } from 'sequelize';
import { applyActivity } from '../../services/core/activity/apply.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { loadSeckillConfig } from '../../services/seckill/config.js';
import { ActivityCache } from '../../services/seckill/activity-cache.js';
import { createRedis, closeRedis } from '../../services/core/redis/client.js';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { getMany } from '../../services/core/redis/multi-key.js';
import { startApi } from '../helpers/api.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, quietLog, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { FAST_TIERS, ordersOf, startOrders, type RunningOrders } from '../helpers/orders.js';
import {
  RedisServers,
  startRedisCluster,
  waitClusterOk,
  type RedisClusterServers,
  type RedisProcess,
} from '../helpers/redis-servers.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

/** Generous bounds: servers start and a cluster forms on a busy 2-core machine. */
const T = 240_000;

const prefix = randomPrefix('rcluster');
const servers = new RedisServers();
let cluster: RedisClusterServers;
let pg: TestSchema;
let redis: Cluster;
let seckill: RunningSeckill;
let worker: RunningOrders;

beforeAll(async () => {
  cluster = await startRedisCluster(servers);
  pg = await testSchema();
  const env = { ...cluster.env, DATABASE_SCHEMA: pg.schema, STAMPEDE_RETRY_TIERS_MS: FAST_TIERS };
  redis = createRedis({ target: loadSeckillConfig(env).redis, log: quietLog, name: 'test' }) as Cluster;
  await waitFor(() => redis.status === 'ready', 'cluster client ready', 30_000);
  seckill = await startSeckill(prefix, env);
  worker = await startOrders(prefix, pg.schema, env);
  await waitReady(seckill.url);
}, T);
afterAll(async () => {
  await worker?.stop();
  await seckill?.stop();
  await dropAmqpPrefix(prefix);
  if (redis) await closeRedis(redis);
  await pg?.drop();
  await servers.stop();
}, T);

/** The master serving a slot, from CLUSTER SLOTS as the first node answers it. */
async function ownerOf(slot: number): Promise<RedisProcess> {
  const first = cluster.masters[0] as RedisProcess;
  const ranges = (await first.client().call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
  const port = range?.[2][1];
  const m = cluster.masters.find((x) => x.port === port);
  if (!m) throw new Error(`no master for slot ${slot}`);
  return m;
}

const slotOf = async (key: string) =>
  Number(await (cluster.masters[0] as RedisProcess).client().call('CLUSTER', 'KEYSLOT', key));

let n = 0;
const nextName = () => `c-${process.pid}-${++n}-${Date.now().toString(36)}`;

/** `count` fresh activity names spread evenly over the masters (random names may miss one). */
async function spreadNames(count: number): Promise<string[]> {
  const per = new Map<number, string[]>();
  const want = Math.ceil(count / cluster.masters.length);
  while ([...per.values()].reduce((s, l) => s + l.length, 0) < count) {
    const name = nextName();
    const owner = await ownerOf(await slotOf(activityKeys(prefix, name).stock));
    const list = per.get(owner.port) ?? [];
    if (list.length < want) per.set(owner.port, [...list, name]);
  }
  return [...per.values()].flat().slice(0, count);
}

async function apply(stock: number, name = nextName()): Promise<{ name: string; total: number }> {
  const now = Date.now();
  const spec = activitySpecSchema.parse({
    product: { sku: `SKU-${name}`, name: 'Cluster product', price: '10.00' },
    stock,
    window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
    paymentWindow: '15m',
  });
  await applyActivity(pg.db, redis, prefix, name, spec);
  return { name, total: stock };
}

async function buy(activity: string, users: string[]): Promise<{ accepted: Set<string>; other: string[] }> {
  const accepted = new Set<string>();
  const other: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < users.length) {
      const u = users[next++] as string;
      const r = await call(seckill.url, `/seckill/${activity}`, {
        token: await tokens.sign({ userId: u, role: 'user' }),
        body: {},
      });
      if (r.status === 202) accepted.add(String(r.body.orderId));
      else
        other.push(r.status === 503 ? `503 ${String(r.body.detail)}` : `${r.status} ${String(r.body.code)}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, lane));
  return { accepted, other };
}

it(
  'sells exactly the stock of ten activities spread over the three masters, each 202 a row',
  async () => {
    const sales: { name: string; total: number }[] = [];
    for (const [i, name] of (await spreadNames(10)).entries()) sales.push(await apply(5 + i, name));
    const owners = await Promise.all(
      sales.map(async (a) => ownerOf(await slotOf(activityKeys(prefix, a.name).stock))),
    );
    expect(new Set(owners.map((o) => o.port)).size).toBe(3);

    const started = Date.now();
    const results = await Promise.all(
      sales.map((a) =>
        buy(
          a.name,
          Array.from({ length: a.total * 3 }, (_, i) => `${a.name}-u${i}`),
        ),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const requests = sales.reduce((s, a) => s + a.total * 3, 0);
    console.log(`redis cluster: ${requests} purchase requests over 10 activities in ${seconds.toFixed(2)} s`);

    for (const [i, a] of sales.entries()) {
      const r = results[i] as { accepted: Set<string>; other: string[] };
      expect(r.accepted.size).toBe(a.total);
      expect(new Set(r.other)).toEqual(new Set(['409 SOLD_OUT']));
    }
    // A stock read over several activities' slots: MGET would be CROSSSLOT.
    const keys = sales.map((a) => activityKeys(prefix, a.name).stock);
    await expect(redis.mget(...keys)).rejects.toThrow(/CROSSSLOT/);
    expect(await getMany(redis, keys)).toEqual(sales.map(() => '0'));
    // The api's activity list reads every sale's stock the same way.
    const api = await startApi(prefix, pg.schema, cluster.env);
    try {
      await waitFor(() => api.api.redis.status === 'ready', 'api cluster client ready', 30_000);
      const list = await call(api.url, '/api/activities?pageSize=100', { method: 'GET' });
      const items = list.body.items as { name: string; stock: { total: number; remaining: number | null } }[];
      for (const a of sales)
        expect(items.find((x) => x.name === a.name)?.stock).toMatchObject({ total: a.total, remaining: 0 });
    } finally {
      await api.stop();
    }

    for (const [i, a] of sales.entries()) {
      await waitFor(
        async () => (await ordersOf(pg.db, a.name)).length === a.total,
        `rows of ${a.name}`,
        60_000,
      );
      const rows = await ordersOf(pg.db, a.name);
      expect(rows.map((r) => r.id).sort()).toEqual(
        [...(results[i] as { accepted: Set<string> }).accepted].sort(),
      );
      const [act] = await pg.db.query<{ sold: number }>(
        'SELECT sold FROM seckill_activities WHERE name = $1',
        {
          bind: [a.name],
          type: QueryTypes.SELECT,
        },
      );
      expect(act?.sold).toBe(a.total);
    }
  },
  T,
);

it(
  'delivers stock events published by scripts on every master to one subscription',
  async () => {
    const sales: { name: string; total: number }[] = [];
    for (const name of await spreadNames(9)) sales.push(await apply(3, name));
    const owners = await Promise.all(
      sales.map(async (a) => ownerOf(await slotOf(activityKeys(prefix, a.name).stock))),
    );
    expect(new Set(owners.map((o) => o.port)).size).toBe(3);
    const sub = createRedis({
      target: loadSeckillConfig(cluster.env).redis,
      log: quietLog,
      name: 'test-sub',
    });
    const cache = new ActivityCache(redis, prefix, quietLog, 2000);
    try {
      await cache.subscribe(sub);
      // The preheats above published on their masters; the cluster bus may still be carrying those events
      // to the subscription's node, and a late one would forget an entry loaded below. A fence published on
      // each master travels the same ordered link behind them: once every fence is heard, none is left.
      const channel = stockEventsChannel(prefix);
      const fences = new Set<string>();
      const heard = new Set<string>();
      sub.on('message', (ch: string, msg: string) => {
        if (ch !== channel) return;
        if (msg.startsWith('fence-')) fences.add(msg);
        else heard.add(msg);
      });
      for (const m of cluster.masters) await m.client().publish(channel, `fence-${m.port}`);
      await waitFor(() => fences.size === cluster.masters.length, 'fences heard', 30_000);
      for (const a of sales) await cache.load(a.name);
      expect(sales.every((a) => cache.holds(a.name))).toBe(true);
      heard.clear();
      // More stock: preheat.lua runs on the activity's master and PUBLISHes there.
      for (const a of sales) {
        const spec = activitySpecSchema.parse({
          product: { sku: `SKU-${a.name}`, name: 'Cluster product', price: '10.00' },
          stock: 4,
          window: {
            start: new Date(Date.now() - 60_000).toISOString(),
            end: new Date(Date.now() + 3_600_000).toISOString(),
          },
          paymentWindow: '15m',
        });
        await applyActivity(pg.db, redis, prefix, a.name, spec);
      }
      // Only a stock event forgets a loaded entry (its TTL only refreshes it): each one was heard.
      await waitFor(
        () => sales.every((a) => heard.has(a.name) && !cache.holds(a.name)),
        'every stock event heard',
        30_000,
      );
    } finally {
      await closeRedis(sub);
    }
  },
  T,
);

it(
  'loads its scripts again after SCRIPT FLUSH and follows MOVED after an activity slot is resharded',
  async () => {
    const a = await apply(40);
    const stockKey = activityKeys(prefix, a.name).stock;
    const slot = await slotOf(stockKey);
    const src = await ownerOf(slot);
    const dst = cluster.masters.find((m) => m.port !== src.port) as RedisProcess;
    const before = await buy(
      a.name,
      Array.from({ length: 10 }, (_, i) => `${a.name}-before-${i}`),
    );
    expect(before.accepted.size).toBe(10);

    for (const m of cluster.masters) await m.client().call('SCRIPT', 'FLUSH');
    const srcC = src.client();
    const dstC = dst.client();
    const srcId = String(await srcC.call('CLUSTER', 'MYID'));
    const dstId = String(await dstC.call('CLUSTER', 'MYID'));
    await dstC.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId);
    await srcC.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId);
    for (;;) {
      const keys = (await srcC.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      if (keys.length === 0) break;
      await srcC.call('MIGRATE', '127.0.0.1', dst.port, '', 0, 10_000, 'KEYS', ...keys);
    }
    for (const m of [dst, src, ...cluster.masters.filter((x) => x !== src && x !== dst)])
      await m.client().call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
    await waitClusterOk(cluster.masters);
    expect(await dstC.exists(stockKey)).toBe(1);
    expect((await ownerOf(slot)).port).toBe(dst.port);

    // The seckill's client still maps the slot to src: its first command there is answered MOVED.
    const after = await buy(
      a.name,
      Array.from({ length: 40 }, (_, i) => `${a.name}-after-${i}`),
    );
    expect([after.accepted.size, after.other.filter((o) => o !== '409 SOLD_OUT')]).toEqual([30, []]);
    expect(new Set(after.other)).toEqual(new Set(['409 SOLD_OUT']));
    expect(await dstC.get(stockKey)).toBe('0');
    await waitFor(async () => (await ordersOf(pg.db, a.name)).length === 40, `rows of ${a.name}`, 60_000);
  },
  T,
);

it(
  'runs a waiting room per master unchanged: joins, admissions and purchases with the admission token',
  async () => {
    const names = await spreadNames(3);
    const now = Date.now();
    for (const name of names) {
      const spec = activitySpecSchema.parse({
        product: { sku: `SKU-${name}`, name: 'Cluster room product', price: '10.00' },
        stock: 5,
        window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
        paymentWindow: '15m',
        waitingRoom: { enabled: true, opensBefore: '0s', admitPerSecond: 1000, maxActive: 100 },
      });
      await applyActivity(pg.db, redis, prefix, name, spec);
    }
    const users = Array.from({ length: 8 }, (_, i) => `room-shopper-${i}`);
    for (const name of names) {
      const accepted = new Set<string>();
      const states: string[] = [];
      for (const u of users) {
        const token = await tokens.sign({ userId: u, role: 'user' });
        expect((await call(seckill.url, `/seckill/${name}/queue`, { method: 'POST', token })).status).toBe(
          200,
        );
      }
      for (const u of users) {
        const token = await tokens.sign({ userId: u, role: 'user' });
        const s = await waitFor(
          async () => {
            const r = await call(seckill.url, `/seckill/${name}/queue/me`, { token });
            return r.body.state === 'admitted' || r.body.state === 'sold_out' ? r.body : null;
          },
          `${u} admitted or told sold out in ${name}`,
          60_000,
        );
        states.push(String(s.state));
        if (s.state !== 'admitted') continue;
        const purchaseToken = (s.admission as { token: string }).token;
        const b = await call(seckill.url, `/seckill/${name}`, {
          token,
          body: {},
          headers: { 'purchase-token': purchaseToken },
        });
        expect(b.status).toBe(202);
        accepted.add(String(b.body.orderId));
      }
      // Five units: five admitted and bought, the other three told sold out.
      expect(states.filter((s) => s === 'admitted')).toHaveLength(5);
      expect(accepted.size).toBe(5);
      await waitFor(async () => (await ordersOf(pg.db, name)).length === 5, `rows of ${name}`, 60_000);
    }
  },
  T,
);
