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
 * Arrivals spread over ARRIVAL_MS and the start at three quarters of it, unless fewer than three quarters
 * of the shoppers have joined MOVE_LEAD_MS before it: then the start moves to MOVE_MS from then (half a
 * second later; the activity applied again, as an SRE would), as often as needed, so most join the
 * pre-queue however fast this machine joins them.
 */
const ARRIVAL_MS = 8000;
const PRE_QUEUE_SHARE = 0.75;
const MOVE_MS = 2000;
/** A move is decided this long before the start it replaces (the apply must land before it). */
const MOVE_LEAD_MS = 1500;
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
  /** The start, in seconds after the first arrival (when three quarters had joined). */
  startSeconds: number;
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

interface Crowd {
  visits: Visit[];
  load: WrkResult;
  cores: Record<string, number>;
  seconds: number;
}

/** Every shopper's visit, the i-th arriving at i/SHOPPERS of the arrival spread; `joined` counts joins. */
async function crowd(c: BenchContext, jwts: string[], joined: () => void): Promise<Crowd> {
  const saleUrl = `${c.seckillUrl}/seckill/${ACTIVITY}`;
  const gate = new Gate(IN_FLIGHT);
  const ms: number[] = [];
  let errors = 0;
  let refused = 0;
  const record = (outcome: string, _t0: number, took: number, a: { status: number }) => {
    ms.push(took);
    if (outcome === 'join') joined();
    if (a.status === 0) errors++;
    else if (a.status >= 400) refused++;
  };
  const deadline = Date.now() + 300_000;
  const visit = async (jwt: string, user: number): Promise<Visit> => {
    await new Promise((r) => setTimeout(r, (user * ARRIVAL_MS) / SHOPPERS));
    const ttl = ADMISSION_TTL_MS;
    return visitRoom({ saleUrl, jwt, user, admissionTtlMs: ttl, deadline, gate, buys: true, record });
  };
  const before = snapshot();
  const started = performance.now();
  const visits = await Promise.all(jwts.map(visit));
  const seconds = (performance.now() - started) / 1000;
  const cores = coresBetween(before, snapshot(), seconds);
  return { visits, load: crowdLoad(ms, errors, refused, seconds), cores, seconds };
}

/** Keeps the start ahead until three quarters have joined; resolves with the start it settled on. */
async function holdStart(c: BenchContext, spec: Spec, joins: () => number, first: number): Promise<number> {
  let start = first;
  for (;;) {
    await new Promise((r) => setTimeout(r, start - MOVE_LEAD_MS - Date.now()));
    if (joins() >= SHOPPERS * PRE_QUEUE_SHARE) return start;
    start = Date.now() + MOVE_MS;
    await createActivity(c, ACTIVITY, UNITS, spec(start));
  }
}

type Spec = (startMs: number) => Record<string, unknown>;

export async function roomSale(c: BenchContext): Promise<RoomSale> {
  const jwts = await signTokens(c.tokens, SHOPPERS, 'r');
  const spec: Spec = (startMs) => roomSpec(startMs, { admitPerSecond: ADMIT_PER_SECOND });
  const start = Date.now() + ARRIVAL_MS * PRE_QUEUE_SHARE;
  await createActivity(c, ACTIVITY, UNITS, spec(start));
  const firstArrival = Date.now();
  let joins = 0;
  const held = holdStart(c, spec, () => joins, start);
  const r = await crowd(c, jwts, () => joins++);
  const startMs = await held;
  const checked = await settle(c, ACTIVITY, UNITS, r.load, r.cores);
  return {
    ...checked,
    invariants: { ...checked.invariants, unadmitted: await unadmitted(c) },
    room: roomFigures(r.visits, await readRoom(c.seckillUrl, ACTIVITY)),
    shoppers: SHOPPERS,
    admitPerSecond: ADMIT_PER_SECOND,
    startSeconds: (startMs - firstArrival) / 1000,
    seconds: r.seconds,
  };
}
