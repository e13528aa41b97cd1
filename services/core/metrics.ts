import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULT_RETRY_TIERS_MS } from './messaging/topology.js';

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

/** Outcomes every sale answers in bulk: their latency series exist from the start (see orderMetrics). */
const BULK_OUTCOMES = ['accepted', 'sold_out', 'already_purchased'];

export function purchaseMetrics(registry: Registry): PurchaseMetrics {
  const m: PurchaseMetrics = {
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
      // Across cluster workers the lowest is the latest a purchase saw (a sale's stock only falls).
      aggregator: 'min',
      registers: [registry],
    }),
  };
  // A sale sells out within one scrape: a series born then holds its whole count and rate() sees none.
  for (const outcome of BULK_OUTCOMES) m.duration.zero({ outcome });
  return m;
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

/**
 * `stampede_purchase_tokens_total{activity,outcome}` (DESIGN §8): `issued`, or the refusal's code in lower
 * case (`not_started`, `ended`, `challenge_failed` from the token route; `token_required`, `token_invalid`
 * from the purchase).
 */
export function purchaseTokenCounter(registry: Registry): Counter<'activity' | 'outcome'> {
  return new Counter({
    name: 'stampede_purchase_tokens_total',
    help: 'Purchase tokens issued, and token requests or purchases refused, by activity and outcome.',
    labelNames: ['activity', 'outcome'],
    registers: [registry],
  });
}

export interface OrderMetrics {
  persisted: Counter;
  retries: Counter<'tier'>;
  parked: Counter;
  closed: Counter<'reason'>;
  stale: Counter;
  oversellRefused: Counter;
  drift: Gauge<'activity'>;
  batchSeconds: Histogram;
}

/** Why an order closes (`stampede_orders_closed_total{reason}`). */
export const CLOSE_REASONS = ['payment_timeout', 'oversell_refused'] as const;

/**
 * `retryTiers` is how many retry tiers the topology has. Label values known at start are exported at 0:
 * rate() and increase() cannot see the first increment of a series that appears with it, so a dashboard
 * would miss the first retry of a tier and the first batch of payment timeouts.
 */
export function orderMetrics(registry: Registry, retryTiers = DEFAULT_RETRY_TIERS_MS.length): OrderMetrics {
  const m = buildOrderMetrics(registry);
  for (let tier = 1; tier <= retryTiers; tier++) m.retries.inc({ tier: String(tier) }, 0);
  for (const reason of CLOSE_REASONS) m.closed.inc({ reason }, 0);
  return m;
}

function buildOrderMetrics(registry: Registry): OrderMetrics {
  const r = [registry];
  return {
    persisted: new Counter({
      name: 'stampede_orders_persisted_total',
      help: 'Orders committed to Postgres.',
      registers: r,
    }),
    retries: new Counter({
      name: 'stampede_order_retries_total',
      help: 'Messages sent to a retry tier.',
      labelNames: ['tier'],
      registers: r,
    }),
    parked: new Counter({
      name: 'stampede_orders_parked_total',
      help: 'Messages moved to the parking lot.',
      registers: r,
    }),
    closed: new Counter({
      name: 'stampede_orders_closed_total',
      help: 'Orders closed, by reason (payment_timeout, oversell_refused).',
      labelNames: ['reason'],
      registers: r,
    }),
    stale: new Counter({
      name: 'stampede_orders_stale_total',
      help: 'Messages dropped because their unit had already been given back.',
      registers: r,
    }),
    oversellRefused: new Counter({
      name: 'stampede_orders_oversell_refused_total',
      help: 'Orders Postgres refused because they would sell more than the total stock.',
      registers: r,
    }),
    drift: new Gauge({
      name: 'stampede_reconcile_drift',
      help: 'Units sold according to Redis minus units sold according to Postgres.',
      labelNames: ['activity'],
      registers: r,
    }),
    batchSeconds: new Histogram({
      name: 'stampede_order_batch_duration_seconds',
      help: 'Time to write one batch of orders.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
  };
}
