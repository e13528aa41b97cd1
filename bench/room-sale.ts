// "A sale behind the room" of `npm run bench`: 100 units, 20,000 shoppers arriving over the first seconds
// (most into the pre-queue), admitted at a configured rate, each visiting as `stampede sale --waiting-room`'s
// shoppers do (services/cli/sale/room-shopper.ts: join, poll, buy once with the admission's token). Checked
// like every purchase scenario, and every buyer must hold an admission.
import { activityKeys } from '../services/core/redis/keys.js';
import { percentile } from '../services/cli/sale/percentile.js';
import { readRoom } from '../services/cli/sale/room.js';
import { Gate, visitRoom, type Visit } from '../services/cli/sale/room-shopper.js';
import { roomFigures, type RoomFigures } from '../services/cli/sale/room-summary.js';
import { coresBetween, snapshot } from './cpu.js';
import { roomSpec } from './room.js';
import { createActivity, settle, signTokens, type BenchContext, type Checked } from './scenarios.js';
import type { WrkResult } from './wrk.js';

const ACTIVITY = 'bench-room-sale';
const UNITS = 100;
const SHOPPERS = Number(process.env.BENCH_ROOM_SHOPPERS ?? 20_000);
const ADMIT_PER_SECOND = Number(process.env.BENCH_ROOM_ADMIT_PER_SECOND ?? 50);
/**
 * Arrivals spread over at least this long, the start three quarters into it: most shoppers join the
 * pre-queue. A platform that joins fewer than 2 × SHOPPERS / ARRIVAL_MS a second (the join load measured
 * just before, when it ran) gets a longer arrival, so the joins do not pile up behind each other and the
 * pre-queue stays the larger part.
 */
const ARRIVAL_MS = 8000;
/** The admission's TTL (the doc's default): a shopper polls at most every 5 s, well within it. */
const ADMISSION_TTL_MS = 120_000;
/**
 * Requests the crowd keeps in flight (BENCH_ROOM_IN_FLIGHT): thousands of browsers poll at the opening at
 * once, so the crowd is not held to wrk's 64 connections.
 */
const IN_FLIGHT = Number(process.env.BENCH_ROOM_IN_FLIGHT ?? 256);

export interface RoomSale extends Checked {
  room: RoomFigures;
  shoppers: number;
  admitPerSecond: number;
  /** Arrivals spread over this long, the start at three quarters of it. */
  arrivalSeconds: number;
  /** From the first arrival to the last visit's end. */
  seconds: number;
}

/** The crowd's requests (joins, polls, purchases) in the shape of a wrk result. */
function crowdLoad(ms: number[], errors: number, refused: number, seconds: number): WrkResult {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    requests: ms.length,
    rps: ms.length / Math.max(seconds, 0.001),
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
    errors,
    non2xx: refused,
  };
}

/** Rows whose buyer has no admission in the room (the admits hash keeps every one made). */
async function unadmitted(c: BenchContext): Promise<number> {
  const [rows] = await c.db.query(
    `SELECT DISTINCT o.user_id FROM orders o JOIN seckill_activities a ON a.id = o.activity_id WHERE a.name = $1`,
    { bind: [ACTIVITY] },
  );
  const users = (rows as { user_id: string }[]).map((r) => r.user_id);
  if (users.length === 0) return 0;
  const admits = await c.redis.hmget(activityKeys(c.prefix, ACTIVITY).admits, ...users);
  return admits.filter((e) => e === null).length;
}

export async function roomSale(c: BenchContext, joinsPerSecond?: number): Promise<RoomSale> {
  const arrivalMs = Math.max(ARRIVAL_MS, joinsPerSecond ? (2000 * SHOPPERS) / joinsPerSecond : 0);
  const jwts = await signTokens(c.tokens, SHOPPERS, 'r');
  const startMs = Date.now() + arrivalMs * 0.75;
  await createActivity(c, ACTIVITY, UNITS, roomSpec(startMs, { admitPerSecond: ADMIT_PER_SECOND }));
  const saleUrl = `${c.seckillUrl}/seckill/${ACTIVITY}`;
  const gate = new Gate(IN_FLIGHT);
  const ms: number[] = [];
  let errors = 0;
  let refused = 0;
  const record = (_outcome: string, _t0: number, took: number, a: { status: number }) => {
    ms.push(took);
    if (a.status === 0) errors++;
    else if (a.status >= 400) refused++;
  };
  const before = snapshot();
  const started = performance.now();
  const visit = async (jwt: string, user: number): Promise<Visit> => {
    await new Promise((r) => setTimeout(r, (user * arrivalMs) / SHOPPERS));
    const deadline = startMs + 120_000;
    return visitRoom({
      saleUrl,
      jwt,
      user,
      admissionTtlMs: ADMISSION_TTL_MS,
      deadline,
      gate,
      buys: true,
      record,
    });
  };
  const visits = await Promise.all(jwts.map(visit));
  const seconds = (performance.now() - started) / 1000;
  const cores = coresBetween(before, snapshot(), seconds);
  const checked = await settle(c, ACTIVITY, UNITS, crowdLoad(ms, errors, refused, seconds), cores);
  const room = roomFigures(visits, await readRoom(c.seckillUrl, ACTIVITY));
  return {
    ...checked,
    invariants: { ...checked.invariants, unadmitted: await unadmitted(c) },
    room,
    shoppers: SHOPPERS,
    admitPerSecond: ADMIT_PER_SECOND,
    arrivalSeconds: arrivalMs / 1000,
    seconds,
  };
}
