// The waiting room's `name: value` lines of `npm run bench`, rates as ratios to the bare node:http hello of
// the same run and the same wrk.
import type { QueueFigures } from './room.js';
import type { RoomSale } from './room-sale.js';
import type { WrkResult } from './wrk.js';

const f = (n: number | null | undefined) => (n ?? 0).toFixed(2);

export function roomLines(
  q: QueueFigures,
  sale: RoomSale | undefined,
  bare: WrkResult | undefined,
  durationSeconds: number,
): [string, string][] {
  const ratio = (n: number | undefined) => f(bare?.rps && n !== undefined ? n / bare.rps : 0);
  const p99Ratio = (n: number | undefined) => f(bare?.p99Ms && n !== undefined ? n / bare.p99Ms : 0);
  // New places per second: a token wrk sent a second time joins nobody (the same place answers).
  const joins = q.join ? q.join.placed / durationSeconds : undefined;
  const lines: [string, string][] = [
    ['queue_join_rps', f(joins)],
    ['queue_join_requests_rps', f(q.join?.load.rps)],
    ['queue_join_p99_ms', f(q.join?.load.p99Ms)],
    ['queue_join_non2xx', String(q.join?.load.non2xx ?? 0)],
    ['ratio_queue_join_vs_bare', ratio(joins)],
    ['ratio_queue_join_p99_vs_bare', p99Ratio(q.join?.load.p99Ms)],
    ['queue_poll_rps', f(q.poll?.rps)],
    ['queue_poll_p99_ms', f(q.poll?.p99Ms)],
    ['queue_poll_non2xx', String(q.poll?.non2xx ?? 0)],
    ['ratio_queue_poll_vs_bare', ratio(q.poll?.rps)],
    ['ratio_queue_poll_p99_vs_bare', p99Ratio(q.poll?.p99Ms)],
    ['queue_poll_prequeue_rps', f(q.pollPreQueue?.rps)],
    ['queue_poll_prequeue_p99_ms', f(q.pollPreQueue?.p99Ms)],
    ['ratio_queue_poll_prequeue_vs_bare', ratio(q.pollPreQueue?.rps)],
  ];
  if (!sale) return lines;
  const r = sale.room;
  lines.push(
    ['room_sale_shoppers', String(sale.shoppers)],
    ['room_sale_admit_per_s', String(sale.admitPerSecond)],
    ['room_sale_start_s', f(sale.startSeconds)],
    ['room_sale_joined', String(r.joined)],
    ['room_sale_prequeue', String(r.preQueue)],
    ['room_sale_admitted', String(r.admitted)],
    ['room_sale_accepted', String(sale.accepted)],
    ['room_sale_admission_to_202_p50_ms', String(r.admissionTo202Ms.p50)],
    ['room_sale_admission_to_202_p99_ms', String(r.admissionTo202Ms.p99)],
    ['room_sale_prequeue_unit_share', f(r.preQueueUnitShare)],
    ['room_sale_prequeue_joiner_share', f(r.preQueueJoinerShare)],
    ['room_sale_seconds', f(sale.seconds)],
    ['room_sale_crowd_rps', f(sale.load.rps)],
    ['room_sale_crowd_p99_ms', f(sale.load.p99Ms)],
    ['room_sale_drain_s', f(sale.drainSeconds)],
  );
  return lines;
}
