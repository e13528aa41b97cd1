// One shopper's visit to a sale behind a waiting room (docs/waiting-room.md), as a shopper's page makes it:
// join, poll the place until admitted (or told the sale is over for them), buy once with the admission's
// purchase token, pay. `stampede sale --waiting-room` and `npm run bench` drive crowds of these.
import { send, type Reply } from './http.js';

/** What `POST /seckill/:activity/queue` and `GET …/queue/me` answer (the fields a shopper reads). */
export interface QueueStatus {
  ticket: string;
  state: string;
  position?: number;
  etaSeconds?: number;
  startsAt: string;
  admission?: { expiresAt: string; token: string };
}

/** How a visit went; times are epoch ms. */
export interface Visit {
  user: number;
  ticket?: string;
  /** The state the join answered (pre-queue before the opening, as the shopper saw it). */
  joinState?: string;
  /** The room's admission time: the admission's expiry minus its TTL (the room's clock, Redis TIME). */
  admittedAt?: number;
  /** How the visit ended: accepted, a purchase refusal, no_show, room_<state>, join_<code>, run_deadline (still waiting). */
  end: string;
  orderId?: string;
  acceptedAt?: number;
  /** The pay call's status (0: no answer), when this shopper paid. */
  payStatus?: number;
}

/**
 * Bounds the requests in flight at once across a whole crowd. One process stands in for thousands of
 * browsers: an urgent request (a join or a purchase, which each shopper's own browser sends at once)
 * goes ahead of the polls waiting for a slot, so a busy crowd delays its polls, not its arrivals or
 * the admitted shoppers' purchases.
 */
export class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly urgent: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>, urgent = false): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((r) => (urgent ? this.urgent : this.waiting).push(r));
    try {
      return await fn();
    } finally {
      // A waiter takes the slot over directly, so `active` only drops when nobody waits.
      const next = this.urgent.shift() ?? this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export type Answer = Reply;

export interface VisitOptions {
  /** `<seckill>/seckill/<activity>` */
  saleUrl: string;
  jwt: string;
  user: number;
  admissionTtlMs: number;
  /** Epoch ms after which the shopper stops polling (the visit ends as `run_deadline`). */
  deadline: number;
  gate: Gate;
  /** false: a no-show, who lets the admission expire. */
  buys: boolean;
  /** Every request, for the run's samples: its outcome, its start (performance.now()) and duration. */
  record(outcome: string, t0: number, ms: number, answer: Answer): void;
  /** Called at a 202; pays when it returns a promise (its status is kept in the visit). */
  pay?(orderId: string): Promise<number> | undefined;
}

const ENDS = new Set(['sold_out', 'expired', 'ended', 'purchased']);
const TRANSIENT = new Set([0, 429, 503]);
const REQUEST_TIMEOUT_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const codeOf = (a: Answer) => String(a.body.code ?? `HTTP_${a.status}`).toLowerCase();

/**
 * When to poll again: a pre-queue place learns its position at the opening, so it waits for the start
 * (checking in at least every 10 s) and spreads over the second after it; a waiting place polls at half
 * its ETA, between 250 ms and `mostMs`, so the head of the queue sees its admission quickly and the tail
 * costs little. Returned units and expired admissions move the head in bursts the ETA cannot foresee:
 * the visit keeps `mostMs` at a quarter of the admission's TTL (30 s at most), so no admission expires
 * unseen, and a sold-out sale reaches the tail within that.
 */
export function nextPollMs(
  s: Pick<QueueStatus, 'state' | 'startsAt' | 'etaSeconds'>,
  now: number,
  mostMs = 30_000,
): number {
  if (s.state === 'pre-queue') {
    const untilStart = Date.parse(s.startsAt) - now;
    if (untilStart > 10_000) return 10_000;
    return Math.max(0, untilStart) + Math.random() * 1000;
  }
  return Math.min(mostMs, Math.max(250, (s.etaSeconds ?? 0) * 500)) + Math.random() * 250;
}

type Kind = 'join' | 'poll' | 'buy';

async function ask(o: VisitOptions, kind: Kind, path: string, headers = {}): Promise<Answer> {
  const method = kind === 'poll' ? 'GET' : 'POST';
  const run = async (): Promise<Answer> => {
    const t0 = performance.now();
    const all = { authorization: `Bearer ${o.jwt}`, ...headers };
    const body = method === 'POST' ? '{}' : undefined;
    const a: Answer = await send(`${o.saleUrl}${path}`, method, all, body, REQUEST_TIMEOUT_MS).catch(() => ({
      status: 0,
      body: { code: 'network_error' },
      retryAfterMs: 500,
    }));
    o.record(outcomeOf(kind, a), t0, performance.now() - t0, a);
    return a;
  };
  // Arrivals and purchases are the crowd's schedule; the polls are what a busy crowd may delay.
  return o.gate.run(run, kind !== 'poll');
}

function outcomeOf(kind: Kind, a: Answer): string {
  if (kind === 'buy') return a.status === 202 ? 'accepted' : codeOf(a);
  if (a.status !== 200) return `${kind}_${codeOf(a)}`;
  return kind === 'join' ? 'join' : `poll_${String(a.body.state)}`;
}

/** Joins, retrying what a shopper's page retries (limits, an unavailable store, a room not yet open). */
async function join(o: VisitOptions): Promise<Answer> {
  for (;;) {
    const a = await ask(o, 'join', '/queue', { 'content-type': 'application/json' });
    const later = TRANSIENT.has(a.status) || (a.status === 409 && a.body.code === 'NOT_STARTED');
    if (!later || Date.now() + a.retryAfterMs >= o.deadline) return a;
    await sleep(a.retryAfterMs);
  }
}

async function buy(o: VisitOptions, v: Visit, s: QueueStatus): Promise<Visit> {
  const token = s.admission?.token ?? '';
  v.admittedAt = Date.parse(s.admission?.expiresAt ?? '') - o.admissionTtlMs;
  if (!o.buys) return { ...v, end: 'no_show' };
  const headers = { 'content-type': 'application/json', 'purchase-token': token };
  let a = await ask(o, 'buy', '', headers);
  // Only a rate limit is retried: any other refusal may have spent the token (one purchase per admission).
  while (a.status === 429 && Date.now() + a.retryAfterMs < o.deadline) {
    await sleep(a.retryAfterMs);
    a = await ask(o, 'buy', '', headers);
  }
  if (a.status !== 202 || typeof a.body.orderId !== 'string') return { ...v, end: codeOf(a) };
  const paid = { ...v, end: 'accepted', orderId: a.body.orderId, acceptedAt: Date.now() };
  const paying = o.pay?.(a.body.orderId);
  return paying ? { ...paid, payStatus: await paying } : paid;
}

/** One shopper's whole visit; never throws (every failure is the visit's `end`). */
export async function visitRoom(o: VisitOptions): Promise<Visit> {
  const v: Visit = { user: o.user, end: 'run_deadline' };
  const joined = await join(o);
  if (joined.status !== 200) return { ...v, end: `join_${codeOf(joined)}` };
  let s = joined.body as unknown as QueueStatus;
  const mostMs = Math.max(250, Math.min(30_000, o.admissionTtlMs / 4));
  v.ticket = s.ticket;
  v.joinState = s.state;
  while (Date.now() < o.deadline) {
    if (s.state === 'admitted' && s.admission) return buy(o, v, s);
    if (ENDS.has(s.state)) return { ...v, end: `room_${s.state}` };
    await sleep(nextPollMs(s, Date.now(), mostMs));
    const a = await ask(o, 'poll', '/queue/me');
    if (a.status === 200) s = a.body as unknown as QueueStatus;
    else if (TRANSIENT.has(a.status)) await sleep(a.retryAfterMs);
    else return { ...v, end: `poll_${codeOf(a)}` };
  }
  return v;
}
