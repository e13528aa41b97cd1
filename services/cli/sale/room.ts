import type { RoomOptions } from './options.js';
import type { RoomAnswer } from './room-summary.js';
import { Gate, visitRoom, type Visit } from './room-shopper.js';
import { sampleStock, type SaleRun } from './run.js';

export interface RoomCrowd {
  seckillUrl: string;
  apiUrl: string;
  activity: string;
  tokens: string[];
  /** window.start (epoch ms): the run's duration counts from it, not from the pre-queue. */
  startMs: number;
}

/** Spreads a share over a sequence: true for exactly floor(n × share) of the first n calls. */
export function stride(share: number): () => boolean {
  let i = 0;
  return () => {
    i++;
    return Math.floor(i * share) > Math.floor((i - 1) * share);
  };
}

/** Pays as the shopper would, once the order's row exists (404 until the pipeline wrote it). */
async function payWhenThere(apiUrl: string, jwt: string, orderId: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(`${apiUrl}/api/orders/${orderId}/pay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}` },
      signal: AbortSignal.timeout(30_000),
    }).then(
      (r) => r.status,
      () => 0,
    );
    if (status !== 404 || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The sale behind its waiting room: shoppers arrive spread over `arrivalSeconds` (most before the start,
 * into the pre-queue), each visits the room (room-shopper.ts) with at most `concurrency` requests in
 * flight for the whole crowd, and a share of the buyers pays at once, so an unpaid order's unit comes back
 * while the room is still admitting. Every request is a sample; `visits` says how each shopper fared.
 */
export async function runRoomSale(
  c: RoomCrowd,
  o: { concurrency: number; durationSeconds: number; payShare: number; waitingRoom: RoomOptions },
  progress: (done: number, total: number, run: SaleRun) => void,
): Promise<SaleRun> {
  const room = o.waitingRoom;
  const started = performance.now();
  const run: SaleRun = { samples: [], stock: [], seconds: 0, visits: [] };
  const saleUrl = `${c.seckillUrl}/seckill/${c.activity}`;
  const visits = run.visits as Visit[];
  const sampler = sampleStock(saleUrl, started, run, () => progress(visits.length, c.tokens.length, run));
  const gate = new Gate(o.concurrency);
  const noShow = stride(room.noShowShare);
  const pays = stride(o.payShare);
  const shopper = async (jwt: string, user: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, (user * room.arrivalSeconds * 1000) / c.tokens.length));
    const v = await visitRoom({
      saleUrl,
      jwt,
      user,
      admissionTtlMs: room.admissionTtlSeconds * 1000,
      deadline: c.startMs + o.durationSeconds * 1000,
      gate,
      buys: !noShow(),
      record: (outcome, t0, ms, a) => {
        const orderId = outcome === 'accepted' ? (a.body.orderId as string) : undefined;
        run.samples.push({ t: t0 - started, ms, outcome, user, ...(orderId ? { orderId } : {}) });
      },
      pay: (orderId) => (pays() ? payWhenThere(c.apiUrl, jwt, orderId) : undefined),
    });
    visits.push(v);
  };
  await Promise.all(c.tokens.map(shopper));
  clearInterval(sampler);
  run.seconds = (performance.now() - started) / 1000;
  progress(visits.length, c.tokens.length, run);
  return run;
}

/** The room's own counts and, once it opened, its draw (the pre-queue's tickets). */
export async function readRoom(seckillUrl: string, activity: string): Promise<RoomAnswer> {
  const url = `${seckillUrl}/seckill/${activity}/queue`;
  const r = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!r.ok) throw new Error(`GET ${url} answered ${r.status}: ${await r.text()}`);
  const s = (await r.json()) as Omit<RoomAnswer, 'preQueueTickets'>;
  const d = await fetch(`${url}/draw`, { signal: AbortSignal.timeout(30_000) });
  const draw = d.ok ? ((await d.json()) as { tickets: string[] }) : null;
  return {
    preQueue: s.preQueue,
    admitted: s.admitted,
    noShows: s.noShows,
    waiting: s.waiting,
    active: s.active,
    commitment: s.commitment,
    ...(s.seed ? { seed: s.seed } : {}),
    preQueueTickets: draw?.tickets ?? null,
  };
}
