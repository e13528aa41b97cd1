// Parked orders are not lost: an accepted order the worker could not write keeps its unit in the parking
// lot, `GET …/result` says `parked`, and `npx stampede orders replay-parked` (the bin, a child process)
// re-drives it into a row once the cause is fixed. Real seckill, worker, Redis, RabbitMQ and Postgres.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { applyActivity } from '../../services/core/activity/apply.js';
import { preheat } from '../../services/core/activity/preheat.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { orderTopology } from '../../services/core/messaging/topology.js';
import { activityKeys, stockEventsChannel } from '../../services/core/redis/keys.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { type TestSchema } from '../helpers/db.js';
import { AMQP_URL, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { expectInvariants, FAST_TIERS, ordersOf, startPipeline, type Pipeline } from '../helpers/orders.js';
import { call, type RunningSeckill } from '../helpers/seckill.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/stampede.js', import.meta.url).pathname;
const prefix = randomPrefix('parked');
let pg: TestSchema;
let redis: Redis;
let seckill: RunningSeckill;

let pipeline: Pipeline;

beforeAll(async () => {
  if (!existsSync(new URL('../../dist/services/cli/main.js', import.meta.url)))
    throw new Error('dist/ is missing: run npm run build first (npm test does)');
  pipeline = await startPipeline(prefix, { SECKILL_RATE_PER_USER: '1000' });
  ({ pg, redis, seckill } = pipeline);
});
afterAll(() => pipeline.stop());

async function parkedCount(): Promise<number> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    return (await (await conn.createChannel()).checkQueue(orderTopology(prefix).parkedQueue)).messageCount;
  } finally {
    await conn.close();
  }
}

const result = async (activity: string, user: string) =>
  (
    await call(seckill.url, `/seckill/${activity}/result`, {
      token: await tokens.sign({ userId: user, role: 'user' }),
    })
  ).body;

it('keeps a parked order’s unit, shows it parked, and replays it into a row once its cause is fixed', async () => {
  // A sale Redis knows but Postgres does not (registered late): every attempt to write its orders fails.
  const name = `parked-${Date.now()}`;
  const now = Date.now();
  const window = {
    start: new Date(now - 60_000).toISOString(),
    end: new Date(now + 3_600_000).toISOString(),
  };
  await preheat(redis, prefix, {
    name,
    total: 5,
    startMs: Date.parse(window.start),
    endMs: Date.parse(window.end),
    maxPerUser: 1,
    price: '10.00',
    paused: false,
  });
  const bought = new Map<string, string>();
  for (const u of ['p-1', 'p-2', 'p-3']) {
    const r = await call(seckill.url, `/seckill/${name}`, {
      token: await tokens.sign({ userId: u, role: 'user' }),
      body: {},
    });
    expect(r.status).toBe(202);
    bought.set(u, String(r.body.orderId));
  }
  await waitFor(async () => (await parkedCount()) === 3, 'three orders parked after the retry tiers');
  const k = activityKeys(prefix, name);
  expect(await redis.get(k.stock)).toBe('2');
  expect(await result(name, 'p-1')).toEqual({ orderId: bought.get('p-1'), status: 'parked' });
  // One of them had its unit given back meanwhile (as an older version did when it parked): replaying it
  // would sell a unit twice, so it stays parked and is reported failed.
  await new Scripts(redis).release(k, 'p-3', bought.get('p-3') as string, stockEventsChannel(prefix), name);
  expect(await result(name, 'p-3')).toEqual({ orderId: bought.get('p-3'), status: 'failed' });

  // The cause is fixed (the activity is registered), then the lot is replayed for this activity.
  const spec = activitySpecSchema.parse({
    product: { sku: `SKU-${name}`, name: 'Phone', price: '10.00' },
    stock: 5,
    window,
    paymentWindow: '15m',
  });
  await applyActivity(pg.db, redis, prefix, name, spec);
  const cli = await run(process.execPath, [BIN, 'orders', 'replay-parked', '--activity', name], {
    env: {
      ...process.env,
      STAMPEDE_PREFIX: prefix,
      DATABASE_SCHEMA: pg.schema,
      STAMPEDE_RETRY_TIERS_MS: FAST_TIERS,
    },
  });
  expect(cli.stdout).toMatch(/replayed 2 parked order\(s\); kept parked: 1 whose unit is no longer held/);
  await waitFor(async () => (await ordersOf(pg.db, name)).length === 2, 'the two replayed orders written');
  expect(await parkedCount()).toBe(1);
  await waitFor(
    async () => (await result(name, 'p-1')).status === 'pending_payment',
    'the result to show the written order',
  );
  await expectInvariants(
    pg.db,
    redis,
    prefix,
    { name, total: 5 },
    new Set([bought.get('p-1'), bought.get('p-2')] as string[]),
  );
}, 60_000);
