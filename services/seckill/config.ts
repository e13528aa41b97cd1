import { availableParallelism } from 'node:os';
import { EnvReader, readCommon, type CommonConfig, type Env } from '../core/config.js';
import { MAX_RATE } from '../core/rate-limit.js';

export interface SeckillConfig extends CommonConfig {
  port: number;
  /** SECKILL_RATE_*: requests per second, cluster-wide (every worker and pod together; docs/limits.md). */
  rateGlobal: number;
  ratePerIp: number;
  ratePerUser: number;
  redisTimeoutMs: number;
  publishTimeoutMs: number;
  /** node:cluster workers sharing the port (DESIGN §8); 1 = this process serves alone (the chart). */
  workers: number;
  /** SECKILL_PURCHASE_TOKEN_TTL_SECONDS: how long a purchase token stays valid (default 60). */
  purchaseTokenTtlSeconds: number;
  /** SECKILL_CHALLENGE_LEAD_SECONDS: challenges are issued from this long before the start (default 30). */
  challengeLeadSeconds: number;
  /** SECKILL_CHALLENGE_TTL_SECONDS: how long a challenge may be solved and redeemed after its issue (default 60). */
  challengeTtlSeconds: number;
  /** SECKILL_QUEUE_TICK_MS: how often the admitter of a waiting room makes an admission pass (default 100). */
  queueTickMs: number;
  /** SECKILL_QUEUE_STATUS_MS: how old a room's summary may be when a status poll is answered (default 500). */
  queueStatusMs: number;
  /**
   * SECKILL_DIAGNOSTICS (`0` or `1`, default 0): each worker exports its event-loop delay and GC pauses
   * since the previous scrape (services/seckill/diagnostics.ts), for the bench; off in production.
   */
  diagnostics: boolean;
  /**
   * SECKILL_PUBLISH_BATCH_MAX (1–1000, default 64): at most this many orders accepted together share one
   * confirmed message (docs/order-batching.md); 1 = one message per order, as before issue 23.
   */
  publishBatchMax: number;
  /**
   * SECKILL_PUBLISH_BATCH_MS (0–100, default 0): 0 sends the orders of one event-loop turn together; more
   * waits that long to gather them (each accepted shopper waits up to that much longer for the 202).
   */
  publishBatchMs: number;
}

export function loadSeckillConfig(env: Env = process.env): SeckillConfig {
  const r = new EnvReader(env);
  const config: SeckillConfig = {
    ...readCommon(r),
    port: r.int('PORT', 8081, 0, 65535),
    rateGlobal: r.int('SECKILL_RATE_GLOBAL', 20000, 0, MAX_RATE),
    ratePerIp: r.int('SECKILL_RATE_PER_IP', 200, 0, MAX_RATE),
    ratePerUser: r.int('SECKILL_RATE_PER_USER', 10, 0, MAX_RATE),
    redisTimeoutMs: r.int('SECKILL_REDIS_TIMEOUT_MS', 1000, 50, 60000),
    publishTimeoutMs: r.int('SECKILL_PUBLISH_TIMEOUT_MS', 2000, 50, 60000),
    workers: r.int('SECKILL_WORKERS', availableParallelism(), 1, 64),
    purchaseTokenTtlSeconds: r.int('SECKILL_PURCHASE_TOKEN_TTL_SECONDS', 60, 5, 3600),
    challengeLeadSeconds: r.int('SECKILL_CHALLENGE_LEAD_SECONDS', 30, 0, 3600),
    challengeTtlSeconds: r.int('SECKILL_CHALLENGE_TTL_SECONDS', 60, 5, 600),
    queueTickMs: r.int('SECKILL_QUEUE_TICK_MS', 100, 10, 10000),
    queueStatusMs: r.int('SECKILL_QUEUE_STATUS_MS', 500, 50, 10000),
    diagnostics: r.int('SECKILL_DIAGNOSTICS', 0, 0, 1) === 1,
    publishBatchMax: r.int('SECKILL_PUBLISH_BATCH_MAX', 64, 1, 1000),
    publishBatchMs: r.int('SECKILL_PUBLISH_BATCH_MS', 0, 0, 100),
  };
  r.done();
  return config;
}
