import { EnvReader, readBase, type BaseConfig, type Env } from '../core/config.js';

export interface OrdersConfig extends BaseConfig {
  port: number;
  /** Unacked messages the broker may push at once (DESIGN: 100–300). */
  prefetch: number;
  /** Most orders written in one transaction. */
  batchSize: number;
  /** How long a partial batch waits for more messages before it is written. */
  batchWaitMs: number;
  /** How often expired unpaid orders are closed and units owed to Redis are given back. */
  sweepIntervalMs: number;
  /** How often Redis buyers are compared with Postgres orders. */
  reconcileIntervalMs: number;
  /** Age after which a buyer entry without an order row is re-published (at most once per this period). */
  reconcileGraceMs: number;
  /** Most buyer entries one reconciler run looks at (HSCAN pages across activities). */
  reconcileBatch: number;
  /** Test-only fault injection: `kill-after-commit` SIGKILLs the process between commit and ack. */
  failpoint: string;
}

export function loadOrdersConfig(env: Env = process.env): OrdersConfig {
  const r = new EnvReader(env);
  const config: OrdersConfig = {
    ...readBase(r),
    port: r.int('PORT', 8082, 0, 65535),
    prefetch: r.int('ORDERS_PREFETCH', 300, 100, 300),
    batchSize: r.int('ORDERS_BATCH_SIZE', 150, 1, 1000),
    batchWaitMs: r.int('ORDERS_BATCH_WAIT_MS', 5, 0, 1000),
    sweepIntervalMs: r.int('ORDERS_SWEEP_INTERVAL_MS', 1000, 50, 60_000),
    reconcileIntervalMs: r.int('ORDERS_RECONCILE_INTERVAL_MS', 5000, 100, 3_600_000),
    reconcileGraceMs: r.int('ORDERS_RECONCILE_GRACE_MS', 30_000, 100, 3_600_000),
    reconcileBatch: r.int('ORDERS_RECONCILE_BATCH', 1000, 10, 100_000),
    failpoint: r.str('ORDERS_FAILPOINT', '', /^(|kill-after-commit)$/, 'empty or kill-after-commit'),
  };
  r.done();
  return config;
}
