import { percentile } from './percentile.js';
import type { Visit } from './room-shopper.js';

/** What the room itself says after the sale: `GET /seckill/:activity/queue` and, once open, its draw. */
export interface RoomAnswer {
  preQueue: number;
  admitted: number;
  noShows: number;
  waiting: number;
  active: number;
  commitment: string;
  seed?: string;
  /** Every pre-queue ticket (`GET …/queue/draw`); null when the room never opened. */
  preQueueTickets: string[] | null;
}

export interface RoomFigures {
  /** Shoppers who got a place. */
  joined: number;
  /** The room's own counts: places in the pre-queue, admissions made, admissions that expired unused. */
  preQueue: number;
  admitted: number;
  noShows: number;
  /** Shoppers who saw their admission (polling), and those of them who chose not to buy. */
  admissionsSeen: number;
  noShowsChosen: number;
  /** From the room's admission (its expiry minus the TTL) to the purchase's 202, over the 202s. */
  admissionTo202Ms: { p50: number; p99: number };
  /** Share of the 202s that went to shoppers who joined in the pre-queue; null without any 202. */
  preQueueUnitShare: number | null;
  /** Share of the shoppers with a place who joined in the pre-queue (what a fair draw is compared to). */
  preQueueJoinerShare: number | null;
  /** How the visits ended: accepted, no_show, room_sold_out, run_deadline (still waiting), … */
  ends: Record<string, number>;
  commitment: string;
  seed: string | null;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** The room's figures from the visits and the room's own answer (pure). */
export function roomFigures(visits: Visit[], answer: RoomAnswer): RoomFigures {
  const ends: Record<string, number> = {};
  for (const v of visits) ends[v.end] = (ends[v.end] ?? 0) + 1;
  const placed = visits.filter((v) => v.ticket !== undefined);
  const accepted = visits.filter((v) => v.end === 'accepted');
  const waits = accepted
    .map((v) => (v.acceptedAt ?? 0) - (v.admittedAt ?? 0))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  const pre = answer.preQueueTickets ? new Set(answer.preQueueTickets) : null;
  const shareOf = (vs: Visit[]) =>
    pre && vs.length ? round(vs.filter((v) => pre.has(v.ticket ?? '')).length / vs.length) : null;
  return {
    joined: placed.length,
    preQueue: answer.preQueue,
    admitted: answer.admitted,
    noShows: answer.noShows,
    admissionsSeen: visits.filter((v) => v.admittedAt !== undefined).length,
    noShowsChosen: ends.no_show ?? 0,
    admissionTo202Ms: { p50: Math.round(percentile(waits, 50)), p99: Math.round(percentile(waits, 99)) },
    preQueueUnitShare: shareOf(accepted),
    preQueueJoinerShare: shareOf(placed),
    ends,
    commitment: answer.commitment,
    seed: answer.seed ?? null,
  };
}

export function formatRoom(r: RoomFigures): string[] {
  const pct = (n: number | null) => (n === null ? 'n/a' : `${(n * 100).toFixed(1)}%`);
  return [
    `waiting room: ${r.joined} joined, ${r.preQueue} in the pre-queue; admitted ${r.admitted} (${r.admissionsSeen} seen by their shoppers), no-shows ${r.noShows} (${r.noShowsChosen} chose not to buy)`,
    `  admission to 202 ms  p50 ${r.admissionTo202Ms.p50}  p99 ${r.admissionTo202Ms.p99}`,
    `  units to pre-queue joiners ${pct(r.preQueueUnitShare)} (they were ${pct(r.preQueueJoinerShare)} of the shoppers)`,
    `  visits ended: ${Object.entries(r.ends)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `  draw: commitment ${r.commitment.slice(0, 16)}…, seed ${r.seed ? `${r.seed.slice(0, 16)}…` : 'not revealed'}`,
  ];
}
