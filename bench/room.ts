// The waiting room under wrk (docs/waiting-room.md): joins with a new shopper's token on every request, and
// status polls from shoppers already in the room, both before the opening (the pre-queue: each poll reads
// the shopper's place) and after it (a fixed place: answered from the process' memory).
import { randomBytes } from 'node:crypto';
import { activityKeys } from '../services/core/redis/keys.js';
import { RoomCode, RoomScripts } from '../services/core/redis/room-scripts.js';
import { createActivity, signTokens, type BenchContext } from './scenarios.js';
import { wrk, writeTokens, type WrkResult } from './wrk.js';

/**
 * Shoppers whose polls are measured. A process reads a place from Redis the first time it is polled and
 * answers from memory after that, once the place is fixed (the room open): the open room's pollers are
 * few enough that the warm-up polls each of them on both seckill workers (the steady state of a long
 * wait), the pre-queue's many (every poll reads the place: its position is not drawn yet).
 */
const OPEN_POLLERS = 2000;
const PRE_QUEUE_POLLERS = 20_000;
const POLL_WARM_UP_SECONDS = 3;
/** Tokens signed per second of the join load: more than the joins one run made here (a new shopper each). */
const JOINERS_PER_SECOND = Number(process.env.BENCH_JOINERS_PER_SECOND ?? 12_000);

export interface JoinLoad {
  load: WrkResult;
  /** Places the room made (its `seq`): a token wrk sent twice answers the same place and is not one. */
  placed: number;
  tokens: number;
}

export interface QueueFigures {
  join?: JoinLoad;
  poll?: WrkResult;
  pollPreQueue?: WrkResult;
}

/** spec.waitingRoom enabled with the doc's defaults, the sale starting at `startMs`. */
export function roomSpec(startMs: number, room: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    window: { start: new Date(startMs).toISOString(), end: new Date(startMs + 3_600_000).toISOString() },
    waitingRoom: { enabled: true, opensBefore: '10m', ...room },
  };
}

/** Puts `n` shoppers in the room through its join script (the fixture of the poll loads), returns their tokens. */
async function joined(c: BenchContext, activity: string, n: number, tag: string): Promise<string[]> {
  const room = new RoomScripts(c.redis);
  const k = activityKeys(c.prefix, activity);
  for (let i = 0; i < n; i += 2000) {
    const users = Array.from({ length: Math.min(2000, n - i) }, (_, j) => `${tag}${i + j}`);
    const answers = await Promise.all(
      users.map((u) => room.join(k, u, randomBytes(16).toString('base64url'))),
    );
    const refused = answers.find((a) => a.code !== RoomCode.JOINED);
    if (refused) throw new Error(`bench: ${activity}: a fixture join answered ${refused.code}`);
  }
  return signTokens(c.tokens, n, tag);
}

async function measured(c: BenchContext, path: string, file: string, method: 'GET' | 'POST') {
  const load = { url: c.seckillUrl, tokensFile: file, connections: c.connections, method };
  return wrk({ ...load, path, durationSeconds: c.durationSeconds });
}

/** `POST /seckill/:activity/queue`, each request a shopper who has no place yet, into an open pre-queue. */
async function joins(c: BenchContext): Promise<JoinLoad> {
  const start = Date.now() + 300_000;
  await createActivity(c, 'bench-room-join', 100, roomSpec(start));
  await createActivity(c, 'bench-room-join-warm', 100, roomSpec(start));
  const tokens = await signTokens(c.tokens, JOINERS_PER_SECOND * c.durationSeconds, 'j');
  const file = writeTokens(`${c.dir}/room-join.tokens`, tokens);
  // The warm-up joins another room, so every shopper of the measured load is new to its room.
  const warm = '/seckill/bench-room-join-warm/queue';
  await wrk({
    url: c.seckillUrl,
    path: warm,
    tokensFile: file,
    connections: c.connections,
    durationSeconds: 1,
  });
  const load = await measured(c, '/seckill/bench-room-join/queue', file, 'POST');
  const seq = await c.redis.hget(activityKeys(c.prefix, 'bench-room-join').room, 'seq');
  return { load, placed: Number(seq ?? 0), tokens: tokens.length };
}

/**
 * `GET /seckill/:activity/queue/me` from `pollers` shoppers in turn, in an open room admitting one a
 * second (nearly every poll is a waiting place's) or in a pre-queue five minutes before its start. The
 * warm-up polls the measured room: polls change nothing.
 */
async function polls(
  c: BenchContext,
  activity: string,
  startMs: number,
  pollers: number,
  tag: string,
): Promise<WrkResult> {
  await createActivity(c, activity, 100, roomSpec(startMs, { admitPerSecond: 1 }));
  const file = writeTokens(`${c.dir}/${activity}.tokens`, await joined(c, activity, pollers, tag));
  const path = `/seckill/${activity}/queue/me`;
  const load = { url: c.seckillUrl, path, tokensFile: file, connections: c.connections };
  await wrk({ ...load, durationSeconds: POLL_WARM_UP_SECONDS, method: 'GET' });
  return measured(c, path, file, 'GET');
}

export async function queueScenarios(c: BenchContext): Promise<QueueFigures> {
  return {
    join: await joins(c),
    poll: await polls(c, 'bench-room-poll', Date.now() - 60_000, OPEN_POLLERS, 'q'),
    pollPreQueue: await polls(c, 'bench-room-poll-pre', Date.now() + 300_000, PRE_QUEUE_POLLERS, 'p'),
  };
}
