// The waiting room's metrics on a real seckill's /metrics (the names the chart's dashboard and alert
// query): a room preheated into the real Redis, shoppers joining through the route, the admitter admitting
// after the start, and each figure exactly what happened. A room that has not started reports no gauge.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { preheat } from '../../services/core/activity/preheat.js';
import { activitySpecSchema, infoFromSpec, type ActivityInfo } from '../../services/core/activity/spec.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, randomPrefix, tokens, waitFor } from '../helpers/env.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

const prefix = randomPrefix('roomm');
let s: RunningSeckill;
let redis: Redis;
// The seckill refuses an unverified account (requireVerifiedEmail); sign() claims a verified one.
const jwt = (userId: string) => tokens.sign({ userId, role: 'user' });

beforeAll(async () => {
  redis = newRedis();
  s = await startSeckill(prefix, { SECKILL_QUEUE_TICK_MS: '20', SECKILL_QUEUE_STATUS_MS: '50' });
  await waitReady(s.url);
});
afterAll(async () => {
  await s?.stop();
  await dropAmqpPrefix(prefix);
  await dropRedisPrefix(redis, prefix);
  await redis?.quit();
});

/** A room sale starting `startInMs` from now, preheated as the operator does (spec → info → preheat). */
async function roomSale(startInMs: number, room: Record<string, unknown>): Promise<ActivityInfo> {
  const now = Date.now();
  const spec = activitySpecSchema.parse({
    product: { sku: 'SKU-ROOM', name: 'Room metrics', price: '5.00' },
    stock: 10,
    window: {
      start: new Date(now + startInMs).toISOString(),
      end: new Date(now + 3_600_000).toISOString(),
    },
    preheat: { leadTime: '10m' },
    waitingRoom: { enabled: true, ...room },
  });
  const info = infoFromSpec(`room-${randomBytes(4).toString('hex')}`, spec);
  await preheat(redis, prefix, info);
  return info;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The seckill's /metrics as samples (Prometheus text format: `name{a="x",…} value`). */
async function scrape(): Promise<Sample[]> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
      );
      return { name: m[1] as string, labels, value: Number(m[3]) };
    });
}

/** The values of `name` whose labels include `labels`. */
const values = (samples: Sample[], name: string, labels: Record<string, string>): number[] =>
  samples
    .filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
    .map((x) => x.value);

it('counts joins, admissions and time in queue, and gauges waiting and active, on /metrics', async () => {
  // Two slots for four shoppers: two admitted in the first pass after the start, two left waiting.
  const a = await roomSale(1500, {
    opensBefore: '1m',
    admitPerSecond: 1000,
    maxActive: 2,
    admissionTtl: '1m',
  });
  // A room that opens at its start, an hour away: a join is refused, and its admitter reports nothing.
  const later = await roomSale(3_600_000 - 60_000, { opensBefore: '0s' });
  const users = ['m-0', 'm-1', 'm-2', 'm-3'];
  for (const u of users) {
    const r = await call(s.url, `/seckill/${a.name}/queue`, { method: 'POST', token: await jwt(u) });
    expect(r.status).toBe(200);
  }
  const again = await call(s.url, `/seckill/${a.name}/queue`, { method: 'POST', token: await jwt('m-0') });
  expect(again.status).toBe(200);
  const early = await call(s.url, `/seckill/${later.name}/queue`, {
    method: 'POST',
    token: await jwt('m-0'),
  });
  expect({ status: early.status, code: early.body.code }).toEqual({ status: 409, code: 'NOT_STARTED' });

  const states = async () =>
    Promise.all(
      users.map(
        async (u) => (await call(s.url, `/seckill/${a.name}/queue/me`, { token: await jwt(u) })).body.state,
      ),
    );
  // The two others read "waiting" once this process' room summary (at most 50 ms old) saw the opening.
  await waitFor(
    async () => {
      const now = await states();
      const count = (state: string) => now.filter((x) => x === state).length;
      return count('admitted') === 2 && count('waiting') === 2;
    },
    'two shoppers admitted, two waiting',
    30_000,
  );

  // The pass that admitted them recorded its figures before any later reply on the same Redis connection.
  const m = await scrape();
  const room = { activity: a.name };
  expect(values(m, 'stampede_queue_admitted_total', room)).toEqual([2]);
  expect(values(m, 'stampede_queue_waiting', room)).toEqual([2]);
  expect(values(m, 'stampede_queue_active', room)).toEqual([2]);
  expect(values(m, 'stampede_queue_no_shows_total', room)).toEqual([]);
  expect(values(m, 'stampede_queue_wait_seconds_count', room)).toEqual([2]);
  expect(values(m, 'stampede_queue_wait_seconds_bucket', { ...room, le: '+Inf' })).toEqual([2]);
  // Pre-queue joiners wait from the start: the first pass after it, a moment later.
  const [waited] = values(m, 'stampede_queue_wait_seconds_sum', room);
  expect(waited).toBeGreaterThanOrEqual(0);
  expect(waited).toBeLessThan(60);
  expect(values(m, 'stampede_queue_joins_total', { ...room, outcome: 'joined' })).toEqual([4]);
  expect(values(m, 'stampede_queue_joins_total', { ...room, outcome: 'already' })).toEqual([1]);
  expect(values(m, 'stampede_queue_joins_total', { activity: later.name, outcome: 'not_started' })).toEqual([
    1,
  ]);
  // Every series carries the process' service label, as the dashboards and the ServiceMonitor expect.
  expect(m.find((x) => x.name === 'stampede_queue_waiting')?.labels.service).toBe('seckill');
  // Before its start a room's passes report nothing: no gauge a dashboard or an alert could misread.
  expect(values(m, 'stampede_queue_waiting', { activity: later.name })).toEqual([]);
  expect(values(m, 'stampede_queue_active', { activity: later.name })).toEqual([]);
}, 60_000);
