// The purchase success path in every Redis mode, each against its own servers started here: one built
// seckill process, wrk (one thread) sending each request as a new shopper. Every request must be a 202
// and Redis must account for each one exactly (stock taken = buyer entries = 202s). The rates are printed
// for docs/benchmarks.md, never asserted.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyActivity } from '../../services/core/activity/apply.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { closeRedis, createRedis, type RedisClient } from '../../services/core/redis/client.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { loadSeckillConfig } from '../../services/seckill/config.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropAmqpPrefix, quietLog, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import {
  RedisServers,
  spawnBuiltSeckill,
  startRedisCluster,
  startSentinelGroup,
} from '../helpers/redis-servers.js';

const run = promisify(execFile);
const SHOPPERS = new URL('../../bench/wrk/shoppers.lua', import.meta.url).pathname;
const T = 300_000;
const SECONDS = Number(process.env.REDIS_MODES_SECONDS ?? 4);
const CONNECTIONS = 32;
/** More shoppers than wrk can send in SECONDS (about 9,000 a second here), so every request is a first purchase. */
const SHOPPERS_N = 120_000;
const prefixes: string[] = [];
let pg: TestSchema;
const servers = new RedisServers();
let tokensFile = '';

beforeAll(async () => {
  pg = await testSchema();
  const all = await Promise.all(
    Array.from({ length: SHOPPERS_N }, (_, i) => tokens.sign({ userId: `m-${i}`, role: 'user' })),
  );
  tokensFile = join(servers.dir, 'tokens.txt');
  writeFileSync(tokensFile, all.join('\n') + '\n');
}, T);
afterAll(async () => {
  for (const p of prefixes) await dropAmqpPrefix(p);
  await pg?.drop();
  await servers.stop();
}, T);

async function measure(mode: string, env: Record<string, string>): Promise<void> {
  const prefix = randomPrefix('rmodes');
  prefixes.push(prefix);
  const full = { ...env, DATABASE_SCHEMA: pg.schema };
  const redis: RedisClient = createRedis({ target: loadSeckillConfig(full).redis, log: quietLog, name: 't' });
  const seckill = await spawnBuiltSeckill(prefix, full);
  try {
    await waitFor(() => redis.status === 'ready', `${mode} client ready`, 30_000);
    const name = `rate-${mode}-${Date.now().toString(36)}`;
    const total = 1_000_000;
    const now = Date.now();
    const spec = activitySpecSchema.parse({
      product: { sku: `SKU-${name}`, name: 'Rate product', price: '1.00' },
      stock: total,
      window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
      paymentWindow: '15m',
    });
    await applyActivity(pg.db, redis, prefix, name, spec);
    const args = [
      '-t1',
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--latency',
      '--timeout',
      '10s',
      '-s',
      SHOPPERS,
    ];
    const { stdout } = await run('wrk', [...args, seckill.url, '--', `/seckill/${name}`, tokensFile], {
      maxBuffer: 8 << 20,
    });
    const r = JSON.parse(/WRK_JSON (\{.*\})/.exec(stdout)?.[1] ?? '{}') as Record<string, number>;
    const requests = r.requests ?? 0;
    const k = activityKeys(prefix, name);
    expect(requests).toBeGreaterThan(0);
    expect(requests).toBeLessThan(SHOPPERS_N);
    expect({ status: r.status, connect: r.connect, read: r.read, timeout: r.timeout }).toEqual({
      status: 0,
      connect: 0,
      read: 0,
      timeout: 0,
    });
    // wrk stops counting at the deadline: up to one request per connection was still in flight. The
    // seckill drains those on SIGTERM; only then do the two counts below stop moving (CI read the buyers
    // while five in-flight scripts had yet to run, then the stock after they had).
    await stopSeckill(seckill);
    const buyers = await redis.hlen(k.buyers);
    expect(buyers - requests).toBeGreaterThanOrEqual(0);
    expect(buyers - requests).toBeLessThanOrEqual(CONNECTIONS);
    expect(total - Number(await redis.get(k.stock))).toBe(buyers);
    const rps = requests / ((r.durationUs ?? 1) / 1e6);
    console.log(
      `redis mode ${mode}: ${rps.toFixed(0)} purchases/s (p50 ${((r.p50Us ?? 0) / 1000).toFixed(2)} ms, ` +
        `p99 ${((r.p99Us ?? 0) / 1000).toFixed(2)} ms), ${requests} purchases, each a 202`,
    );
  } finally {
    await stopSeckill(seckill);
    await closeRedis(redis);
  }
}

async function stopSeckill(seckill: Awaited<ReturnType<typeof spawnBuiltSeckill>>): Promise<void> {
  if (seckill.child.exitCode === null && seckill.child.signalCode === null) seckill.child.kill('SIGTERM');
  await seckill.exited;
}

it(
  'single server',
  async () => {
    const one = await servers.start(await servers.port());
    await measure('single', { REDIS_URL: `redis://127.0.0.1:${one.port}` });
  },
  T,
);

it(
  'Sentinel, every purchase on one replica before its 202 (REDIS_WAIT_REPLICAS=1)',
  async () => {
    const group = await startSentinelGroup(servers, 'rates');
    await measure('sentinel-wait1', { ...group.env, REDIS_WAIT_REPLICAS: '1' });
    await measure('sentinel-wait0', { ...group.env, REDIS_WAIT_REPLICAS: '0' });
  },
  T,
);

it(
  'three-master cluster',
  async () => {
    const cluster = await startRedisCluster(servers);
    await measure('cluster', cluster.env);
  },
  T,
);
