import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The waiting room's metrics (docs/waiting-room.md, README "Names"); the admitter sets the room's gauges. */
export interface RoomMetrics {
  waiting: Gauge<'activity'>;
  active: Gauge<'activity'>;
  admitted: Counter<'activity'>;
  noShows: Counter<'activity'>;
  wait: Histogram<'activity'>;
  joins: Counter<'activity' | 'outcome'>;
}

export function roomMetrics(registry: Registry): RoomMetrics {
  const registers = [registry];
  return {
    waiting: new Gauge({
      name: 'stampede_queue_waiting',
      help: 'Shoppers waiting in the room (not yet admitted), as the admitter saw it last',
      labelNames: ['activity'],
      registers,
    }),
    active: new Gauge({
      name: 'stampede_queue_active',
      help: 'Admitted shoppers holding a slot now',
      labelNames: ['activity'],
      registers,
    }),
    admitted: new Counter({
      name: 'stampede_queue_admitted_total',
      help: 'Shoppers admitted from the room',
      labelNames: ['activity'],
      registers,
    }),
    noShows: new Counter({
      name: 'stampede_queue_no_shows_total',
      help: 'Admissions that expired without a purchase (their slot went to the next shopper)',
      labelNames: ['activity'],
      registers,
    }),
    wait: new Histogram({
      name: 'stampede_queue_wait_seconds',
      help: 'Time in the room until admission, counted from the later of the join and the start',
      labelNames: ['activity'],
      buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
      registers,
    }),
    joins: new Counter({
      name: 'stampede_queue_joins_total',
      help: 'Joins of a waiting room by outcome (joined, already, or the refusal code)',
      labelNames: ['activity', 'outcome'],
      registers,
    }),
  };
}
