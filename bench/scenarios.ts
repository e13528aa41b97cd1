// The purchase scenarios of `npm run bench`, each against the processes `npm start` runs, each checked
// afterwards: no oversell, no duplicate, every accepted order a row (and how long the rows took).
import type { Redis } from 'ioredis';
import { QueryTypes, type Sequelize } from 'sequelize';
import { applyActivity } from '../services/core/activity/apply.js';
import { activitySpecSchema } from '../services/core/activity/spec.js';
import type { TokenService } from '../services/core/auth/jwt.js';
import { activityKeys } from '../services/core/redis/keys.js';
import { coresBetween, snapshot } from './cpu.js';
import type { SplitFigures } from './split.js';
import { closeWindow, openWindow, type TailWindow } from './tail.js';
import { wrk, writeTokens, type WrkResult } from './wrk.js';

export interface BenchContext {
  db: Sequelize;
  redis: Redis;
  prefix: string;
  tokens: TokenService;
  /** JWT_SECRET, from which the seckill derives its purchase-token key (the bench signs tokens too). */
  secret: string;
  seckillUrl: string;
  connections: number;
  durationSeconds: number;
  dir: string;
}

export interface Checked {
  load: WrkResult;
  accepted: number;
  rows: number;
  drainSeconds: number;
  /** Cores each component used while the load ran (bench/cpu.ts). */
  cores: Record<string, number>;
  /** Each seckill worker's event-loop delay and GC pauses over the load, its own p99s (bench/tail.ts). */
  tail?: TailWindow;
  /** The per-outcome latencies of the Node client's run (bench/split.ts). */
  split?: SplitFigures;
  invariants: {
    oversold: number;
    duplicate: number;
    lost: number;
    unannounced: number;
    /** A sale behind a waiting room: rows whose buyer the room never admitted. */
    unadmitted?: number;
  };
}

export async function createActivity(
  c: BenchContext,
  name: string,
  stock: number,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const now = Date.now();
  // `extra` may move the window (a waiting room's sale starts ahead), never the product or the stock.
  const spec = activitySpecSchema.parse({
    window: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
    ...extra,
    product: { sku: `BENCH-${name}`, name: `bench ${name}`, price: '1.00' },
    stock,
    // No order may close during the run: the invariants compare 202s with rows.
    paymentWindow: '1h',
  });
  await applyActivity(c.db, c.redis, c.prefix, name, spec);
}

export async function signTokens(tokens: TokenService, n: number, tag: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 5000) {
    const size = Math.min(5000, n - i);
    const chunk = Array.from({ length: size }, (_, j) =>
      tokens.sign({ userId: `${tag}${i + j}`, role: 'user' }),
    );
    out.push(...(await Promise.all(chunk)));
  }
  return out;
}

/** 202s counted by the seckill processes themselves (the /metrics answer aggregates every worker). */
export async function acceptedOf(seckillUrl: string, activity: string): Promise<number> {
  const text = await (await fetch(`${seckillUrl}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('stampede_purchase_requests_total{')) continue;
    if (line.includes(`activity="${activity}"`) && line.includes('outcome="accepted"')) {
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return n;
}

const rowCount = async (db: Sequelize, activity: string) => {
  const [r] = await db.query<{ rows: string; users: string; units: string }>(
    `SELECT count(*) AS rows, count(DISTINCT o.user_id) AS users, coalesce(sum(o.quantity), 0) AS units
     FROM orders o JOIN seckill_activities a ON a.id = o.activity_id WHERE a.name = $1`,
    { bind: [activity], type: QueryTypes.SELECT },
  );
  return { rows: Number(r?.rows), users: Number(r?.users), units: Number(r?.units) };
};

/** Waits (bounded) for the rows, timing the drain from the end of the load. */
export async function settle(
  c: BenchContext,
  activity: string,
  stock: number,
  load: WrkResult,
  cores: Record<string, number>,
): Promise<Checked> {
  const ended = performance.now();
  // wrk stops counting at its deadline with a request per connection in flight, and those may still be
  // accepted after the first read: the count is read again once the rows caught up with it (not on every
  // pass, which would scrape the seckill every 20 ms of the drain being timed).
  let accepted = await acceptedOf(c.seckillUrl, activity);
  let seen = await rowCount(c.db, activity);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (seen.rows >= accepted) {
      const again = await acceptedOf(c.seckillUrl, activity);
      if (again === accepted) break;
      accepted = again;
    }
    await new Promise((r) => setTimeout(r, 20));
    seen = await rowCount(c.db, activity);
  }
  const drainSeconds = (performance.now() - ended) / 1000;
  const remaining = Number(await c.redis.get(activityKeys(c.prefix, activity).stock));
  return {
    load,
    cores,
    accepted,
    rows: seen.rows,
    drainSeconds,
    invariants: {
      oversold: Math.max(0, seen.units - stock) + (remaining < 0 ? 1 : 0),
      duplicate: seen.rows - seen.users,
      lost: Math.max(0, accepted - seen.rows),
      // A row without a 202 would be a unit sold to nobody who was told.
      unannounced: Math.max(0, seen.rows - accepted),
    },
  };
}

/** What drives a purchase scenario's load once it is warmed up: wrk, or another client (bench/split.ts). */
export type Drive = (path: string, tokensFile: string) => Promise<WrkResult>;

/** BENCH_TIMELINE=1: each measured wrk run counts its answers per 50 ms (bench/wrk/timeline.lua). */
const TIMELINE = process.env.BENCH_TIMELINE === '1';

/** The warm-up crowd: shoppers of their own, so the measured crowd's first attempts still count. */
let warmCrowd: Promise<string> | undefined;
const WARM_SHOPPERS = 20_000;
const WARM_SECONDS = Number(process.env.BENCH_WARM_SECONDS ?? 2);

/**
 * Before each measured run, a sale of the same shape on an activity of its own (`<activity>-warm`: the
 * same stock, a crowd of its own), so V8 has optimised every path the run takes (the accepted burst, the
 * script's SOLD_OUT, a first-seen token on a sold-out sale, the sold-out answer from memory) and the
 * connections are open. A warm-up on an endless stock left the sold-out paths to be optimised during the
 * measured run's first second. Then the pipeline is waited for: the warm-up's orders are rows before the
 * measured sale opens, as on a platform that was quiet before its sale.
 */
async function warmUp(c: BenchContext, o: { activity: string; stock: number }): Promise<void> {
  const activity = `${o.activity}-warm`;
  await createActivity(c, activity, o.stock);
  warmCrowd ??= signTokens(c.tokens, WARM_SHOPPERS, 'warm').then((t) =>
    writeTokens(`${c.dir}/warm.tokens`, t),
  );
  const file = await warmCrowd;
  const path = `/seckill/${activity}`;
  const load = await wrk({
    url: c.seckillUrl,
    path,
    tokensFile: file,
    connections: c.connections,
    durationSeconds: WARM_SECONDS,
  });
  const warmed = await settle(c, activity, o.stock, load, {});
  const bad = broken(`${o.activity} warm-up`, warmed);
  if (bad.length) throw new Error(bad.join('; '));
}

export async function purchaseScenario(
  c: BenchContext,
  o: { activity: string; stock: number; shoppers: string[]; spec?: Record<string, unknown> },
  drive: Drive = (path, tokensFile) =>
    wrk({
      url: c.seckillUrl,
      path,
      tokensFile,
      connections: c.connections,
      durationSeconds: c.durationSeconds,
      timeline: TIMELINE,
    }),
): Promise<Checked> {
  await createActivity(c, o.activity, o.stock, o.spec);
  const file = writeTokens(`${c.dir}/${o.activity}.tokens`, o.shoppers);
  await warmUp(c, o);
  const window = await openWindow(c.seckillUrl);
  const before = snapshot();
  const started = performance.now();
  const load = await drive(`/seckill/${o.activity}`, file);
  const cores = coresBetween(before, snapshot(), (performance.now() - started) / 1000);
  const tail = await closeWindow(c.seckillUrl, window);
  return { ...(await settle(c, o.activity, o.stock, load, cores)), tail };
}

export function broken(name: string, r: Checked): string[] {
  return Object.entries(r.invariants)
    .filter(([, n]) => n !== 0)
    .map(([k, n]) => `${name}: invariant ${k} broken (${n})`);
}
