import type { SaleOptions } from './options.js';
import { percentile } from './percentile.js';
import { formatRoom, roomFigures, type RoomAnswer, type RoomFigures } from './room-summary.js';
import type { SaleRun } from './run.js';
import type { Invariants, Settled } from './settle.js';

export { percentile };

export interface SaleSummary {
  activity: string;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  outcomes: Record<string, number>;
  accepted: number;
  stock: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  histogram: { upToMs: number; count: number }[];
  orders: Record<string, number> & { rows: number };
  paid: number;
  closed: number;
  drainSeconds: number | null;
  redisRemaining: number | null;
  invariants: Invariants;
  ok: boolean;
  /**
   * What the purchase token cost each attempt (`--purchase-token`): getting it (ms, challenge and proof of
   * work included) and of that the proof of work alone; null for a sale without tokens.
   */
  purchaseToken: { mode: string; tokenMs: Quantiles; solveMs: Quantiles } | null;
  /** With --waiting-room: the room's figures (room-summary.ts); null without a room. */
  waitingRoom: RoomFigures | null;
}

interface Quantiles {
  p50: number;
  p99: number;
}

const BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, Infinity];

const round = (n: number) => Math.round(n * 100) / 100;

function quantiles(values: (number | undefined)[]): Quantiles {
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)) };
}

export function summarize(
  activity: string,
  o: SaleOptions,
  run: SaleRun,
  s: Settled,
  room: RoomAnswer | null = null,
): SaleSummary {
  const outcomes: Record<string, number> = {};
  for (const x of run.samples) outcomes[x.outcome] = (outcomes[x.outcome] ?? 0) + 1;
  const lat = run.samples.map((x) => x.ms).sort((a, b) => a - b);
  const histogram = BUCKETS.map((upToMs, i) => ({
    upToMs,
    count: lat.filter((v) => v <= upToMs && (i === 0 || v > (BUCKETS[i - 1] as number))).length,
  }));
  const ok = Object.values(s.invariants).every((n) => n === 0);
  return {
    activity,
    requests: run.samples.length,
    seconds: round(run.seconds),
    requestsPerSecond: round(run.samples.length / Math.max(run.seconds, 0.001)),
    outcomes,
    accepted: outcomes.accepted ?? 0,
    stock: o.stock,
    latencyMs: {
      p50: round(percentile(lat, 50)),
      p90: round(percentile(lat, 90)),
      p99: round(percentile(lat, 99)),
      max: round(lat.at(-1) ?? 0),
    },
    histogram,
    orders: { ...s.byStatus, rows: s.rows },
    paid: s.byStatus.paid ?? 0,
    closed: s.byStatus.closed ?? 0,
    drainSeconds: s.drainSeconds === null ? null : round(s.drainSeconds),
    redisRemaining: s.remaining,
    invariants: s.invariants,
    ok,
    purchaseToken:
      o.purchaseToken === 'none'
        ? null
        : {
            mode: o.purchaseToken,
            tokenMs: quantiles(run.samples.map((x) => x.tokenMs)),
            solveMs: quantiles(run.samples.map((x) => x.solveMs)),
          },
    waitingRoom: room ? roomFigures(run.visits ?? [], room) : null,
  };
}

export function formatSummary(x: SaleSummary): string {
  const width = 30;
  const most = Math.max(1, ...x.histogram.map((h) => h.count));
  const bar = (n: number) => '█'.repeat(Math.round((n / most) * width)).padEnd(width, ' ');
  const mark = (n: number) => (n === 0 ? '0 ✓' : `${n} ✗`);
  const lines = [
    `flash sale ${x.activity}: ${x.requests} requests in ${x.seconds} s (${x.requestsPerSecond} req/s)`,
    '',
    'requests by outcome',
    ...Object.entries(x.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `  ${k.padEnd(20)} ${String(v).padStart(8)}`),
    '',
    `accepted ${x.accepted} of ${x.stock} in stock (units returned by payment timeouts can sell again)`,
    ...(x.waitingRoom ? formatRoom(x.waitingRoom) : []),
    `latency ms  p50 ${x.latencyMs.p50}  p90 ${x.latencyMs.p90}  p99 ${x.latencyMs.p99}  max ${x.latencyMs.max}`,
    ...(x.purchaseToken
      ? [
          `purchase token (${x.purchaseToken.mode}) per attempt: ms p50 ${x.purchaseToken.tokenMs.p50}  p99 ${x.purchaseToken.tokenMs.p99}, of which proof of work p50 ${x.purchaseToken.solveMs.p50}  p99 ${x.purchaseToken.solveMs.p99}`,
        ]
      : []),
    ...x.histogram
      .filter((h) => h.count > 0)
      .map(
        (h) =>
          `  ≤ ${String(h.upToMs === Infinity ? '∞' : h.upToMs).padStart(5)} ms ${bar(h.count)} ${h.count}`,
      ),
    '',
    `orders in Postgres ${x.orders.rows}: ${Object.entries(x.orders)
      .filter(([k]) => k !== 'rows')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `paid ${x.paid}, closed by payment timeout ${x.closed}, pipeline drained in ${x.drainSeconds ?? 'n/a'} s, Redis remaining ${x.redisRemaining}`,
    '',
    `invariants  ${Object.entries(x.invariants)
      .map(([k, n]) => `${k} ${mark(n)}`)
      .join('   ')}`,
  ];
  return lines.join('\n');
}
