import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per process (and per app instance in tests, so two apps in one jest worker never share
 * series). Metric names are fixed by DESIGN §7; activity labels only ever carry known activity names,
 * never a raw URL segment, so a scan of random names cannot blow up cardinality.
 */
export function createRegistry(service: string, defaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (defaults) collectDefaultMetrics({ register: registry, prefix: 'stampede_process_' });
  return registry;
}

export interface PurchaseMetrics {
  requests: Counter<'activity' | 'outcome'>;
  duration: Histogram<'outcome'>;
  stockRemaining: Gauge<'activity'>;
}

export function purchaseMetrics(registry: Registry): PurchaseMetrics {
  return {
    requests: new Counter({
      name: 'stampede_purchase_requests_total',
      help: 'Purchase requests by activity and outcome (ok or an error code in lower case).',
      labelNames: ['activity', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'stampede_purchase_duration_seconds',
      help: 'Time to answer a purchase request, publish confirm included.',
      labelNames: ['outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    stockRemaining: new Gauge({
      name: 'stampede_stock_remaining',
      help: 'Stock left in Redis as last seen by this process.',
      labelNames: ['activity'],
      registers: [registry],
    }),
  };
}

/**
 * Records one purchase answer. Label children are cached: prom-client hashes the label object on every
 * call otherwise, which shows on a path answering thousands of sold-out requests a second.
 */
export class PurchaseRecorder {
  private readonly counters = new Map<string, { inc(): void }>();
  private readonly timers = new Map<string, { observe(v: number): void }>();

  constructor(private readonly m: PurchaseMetrics) {}

  record(activity: string, outcome: string, seconds: number): void {
    const key = `${activity}\u0000${outcome}`;
    let c = this.counters.get(key);
    if (!c) this.counters.set(key, (c = this.m.requests.labels(activity, outcome)));
    let t = this.timers.get(outcome);
    if (!t) this.timers.set(outcome, (t = this.m.duration.labels(outcome)));
    c.inc();
    t.observe(seconds);
  }
}
