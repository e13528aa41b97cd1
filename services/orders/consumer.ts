import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { RedisClient } from '../core/redis/client.js';
import type { Sequelize } from 'sequelize';
import { isInfrastructureError } from '../core/db/connect.js';
import type { Logger } from '../core/log.js';
import type { OrderMetrics } from '../core/metrics.js';
import type { OrderTopology } from '../core/messaging/topology.js';
import { activityKeys, stockEventsChannel } from '../core/redis/keys.js';
import { Scripts } from '../core/redis/scripts.js';
import { withTimeout } from '../core/timeout.js';
import { processBatch, type Verdict } from './batch.js';
import { ActivityIds } from './persist.js';
import { cut, expand, ordersIn, verdictsPerDelivery, type Delivery } from './deliveries.js';
import { parseOrderPlaced, salvage } from './message.js';
import { attemptOf, nextTier, toParking, toRetry } from './routing.js';
import { returnOwedUnits } from './stock-return.js';

export interface ConsumerDeps {
  db: Sequelize;
  redis: RedisClient;
  prefix: string;
  topology: OrderTopology;
  metrics: OrderMetrics;
  log: Logger;
  prefetch: number;
  batchSize: number;
  batchWaitMs: number;
  failpoint: string;
}

/**
 * A dependency we cannot reach, or a Postgres refusal about Postgres itself (lock or statement timeout,
 * deadlock, failover to read-only…): the batch goes back to the queue untouched and consuming pauses.
 */
export function isOutage(err: unknown, redis: RedisClient): boolean {
  const msg = String((err as Error)?.message ?? err);
  return (
    isInfrastructureError(err) ||
    redis.status !== 'ready' ||
    /timed out|Connection is closed|ECONNREFUSED/.test(msg)
  );
}

/**
 * Consumes `order.placed` in batches: one batch in flight at a time, acked only after its transaction
 * committed (or after the message was re-published to a retry tier or the parking lot, with confirms).
 * On an outage it hands the batch back, stops consuming and probes until Postgres and Redis answer.
 * A batch message (many orders, issue 23) is taken apart into its orders (deliveries.ts); batches are cut
 * at delivery boundaries and each delivery is acked or nacked exactly once, after all its orders.
 */
export class OrderConsumer {
  private ch: ConfirmChannel | null = null;
  private tag: string | null = null;
  private pending: Delivery[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private pausedUntilHealthy = false;
  private stopping = false;
  private readonly ids: ActivityIds;

  constructor(private readonly d: ConsumerDeps) {
    this.ids = new ActivityIds(d.db);
  }

  get consuming(): boolean {
    return this.tag !== null;
  }

  /** Called with each new channel (after a reconnect) and with null when it is lost. */
  async attach(ch: ConfirmChannel | null): Promise<void> {
    this.ch = ch;
    this.tag = null;
    this.pending = [];
    if (ch && !this.stopping && !this.pausedUntilHealthy) await this.consume(ch);
  }

  private async consume(ch: ConfirmChannel): Promise<void> {
    await ch.prefetch(this.d.prefetch);
    const { consumerTag } = await ch.consume(this.d.topology.placedQueue, (m) => m && this.onMessage(ch, m));
    this.tag = consumerTag;
  }

  private onMessage(ch: ConfirmChannel, msg: ConsumeMessage): void {
    if (ch !== this.ch) return;
    this.pending.push(expand(msg));
    if (ordersIn(this.pending) >= this.d.batchSize) this.flushSoon(0);
    else if (!this.timer) this.flushSoon(this.d.batchWaitMs);
  }

  private flushSoon(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const ch = this.ch;
      const batch = this.pending.splice(0, cut(this.pending, this.d.batchSize));
      if (ch && batch.length) this.flush(ch, batch);
      // What arrived behind a full batch needs its own turn: no further delivery may come to trigger it.
      if (this.pending.length)
        this.flushSoon(ordersIn(this.pending) >= this.d.batchSize ? 0 : this.d.batchWaitMs);
    }, ms);
  }

  /**
   * Starts deciding a batch at once (so the next batch's parsing, claim and insert overlap the previous
   * one's commit) but settles batches strictly in delivery order.
   */
  private flush(ch: ConfirmChannel, batch: Delivery[]): void {
    const end = this.d.metrics.batchSeconds.startTimer();
    const deciding = this.decide(batch.flatMap((d) => d.parts)).then(
      (v) => ({ ok: true as const, v }),
      (err: unknown) => ({ ok: false as const, err }),
    );
    this.chain = this.chain.then(async () => {
      const r = await deciding;
      end();
      if (!r.ok) return this.handBack(ch, batch, r.err);
      await this.settleBatch(ch, batch, r.v);
    });
  }

  private handBack(ch: ConfirmChannel, batch: Delivery[], err: unknown): void {
    this.d.log.warn(
      { err: (err as Error).message, size: batch.length },
      'dependency outage: batch handed back',
    );
    for (const d of batch) safe(() => ch.nack(d.msg, false, true));
    void this.pauseUntilHealthy(ch);
  }

  private async settleBatch(ch: ConfirmChannel, batch: Delivery[], verdicts: Verdict[]): Promise<void> {
    if (
      this.d.failpoint === 'kill-after-commit' &&
      verdicts.some((v) => v.kind === 'done' && v.outcome === 'persisted')
    ) {
      process.kill(process.pid, 'SIGKILL');
    }
    if (verdicts.every((v) => v.kind === 'done')) this.ackAll(ch, batch, verdicts);
    else {
      const per = verdictsPerDelivery(batch, verdicts);
      await Promise.all(batch.map((d, i) => this.settle(ch, d, per[i] as Verdict[])));
    }
    if (verdicts.some((v) => v.kind === 'done' && v.outcome === 'failed')) {
      await returnOwedUnits(this.d.db, this.d.redis, this.d.prefix).catch(() => undefined);
    }
  }

  /** Verdicts for a batch; a batch that fails for another reason is split so one bad message cannot hold the rest. */
  private async decide(batch: ConsumeMessage[]): Promise<Verdict[]> {
    const run = (msgs: ConsumeMessage[]) =>
      withTimeout(processBatch(msgs, { ...this.d, ids: this.ids }), 15_000, 'order batch');
    try {
      return await run(batch);
    } catch (err) {
      if (isOutage(err, this.d.redis)) throw err;
      if (batch.length === 1) return [{ kind: 'retry', reason: (err as Error).message }];
      const out: Verdict[] = [];
      for (const m of batch) out.push(...(await this.decide([m])));
      return out;
    }
  }

  /**
   * Batches are cut from the delivery stream in order and settled one after another, so every earlier
   * delivery on this channel is already settled: one `multiple` ack covers the batch.
   */
  private ackAll(ch: ConfirmChannel, batch: Delivery[], verdicts: Verdict[]): void {
    for (const v of verdicts) if (v.kind === 'done') this.count(v.outcome);
    safe(() => ch.ack((batch[batch.length - 1] as Delivery).msg, true));
  }

  /**
   * Acks a delivery once all its orders are settled; an order to retry or park goes alone, as its own
   * message. Should any step fail, the whole delivery is handed back (a later multiple ack must not cover
   * it): the broker redelivers it, and the orders already written are claims and duplicates by then.
   */
  private async settle(ch: ConfirmChannel, d: Delivery, verdicts: Verdict[]): Promise<void> {
    try {
      // Every step finishes before the delivery is acked or handed back, never one step after that.
      const steps = await Promise.allSettled(
        d.parts.map((m, i) => this.settleOrder(ch, m, verdicts[i] as Verdict)),
      );
      const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      ch.ack(d.msg);
    } catch (err) {
      const messageId = d.msg.properties.messageId as unknown;
      this.d.log.warn({ err: (err as Error).message, messageId }, 'settle failed');
      safe(() => ch.nack(d.msg, false, true));
    }
  }

  private async settleOrder(ch: ConfirmChannel, msg: ConsumeMessage, v: Verdict): Promise<void> {
    if (v.kind === 'done') this.count(v.outcome);
    else if (v.kind === 'retry') await this.retry(ch, msg, v.reason);
    else await this.park(ch, msg, v.reason);
  }

  private count(outcome: string): void {
    if (outcome === 'persisted') this.d.metrics.persisted.inc();
    else if (outcome === 'stale') this.d.metrics.stale.inc();
    else if (outcome === 'failed') {
      this.d.metrics.oversellRefused.inc();
      this.d.metrics.closed.inc({ reason: 'oversell_refused' });
      this.d.log.error(
        'Postgres refused an oversell: RedisClient sold more than total_stock; the order is failed and its unit returned',
      );
    }
  }

  private async retry(ch: ConfirmChannel, msg: ConsumeMessage, reason: string): Promise<void> {
    const tier = nextTier(attemptOf(msg), this.d.topology.retryQueues.length);
    if (tier === null) return this.park(ch, msg, `retries exhausted: ${reason}`);
    await toRetry(ch, this.d.topology, msg, tier, reason);
    this.d.metrics.retries.inc({ tier: String(tier) });
  }

  /**
   * An accepted order keeps its unit while parked: it is marked `parked` (the reconciler leaves it alone,
   * `GET …/result` says so) until a person fixes the cause and re-drives it with `stampede orders
   * replay-parked`. Only a malformed message, which can never become a row, gives its unit back.
   */
  private async park(ch: ConfirmChannel, msg: ConsumeMessage, reason: string): Promise<void> {
    const order = parseOrderPlaced(msg.content);
    const scripts = new Scripts(this.d.redis);
    if (order) {
      const k = activityKeys(this.d.prefix, order.activity);
      await scripts.park(k, order.userId, order.orderId, 'parked');
    }
    await toParking(ch, this.d.topology, msg, reason);
    this.d.metrics.parked.inc();
    this.d.log.error(
      { messageId: msg.properties.messageId, reason, attempt: attemptOf(msg) },
      'message parked',
    );
    const who = order ? null : salvage(msg.content);
    if (who) {
      const k = activityKeys(this.d.prefix, who.activity);
      await scripts.release(k, who.userId, who.orderId, stockEventsChannel(this.d.prefix), who.activity);
    }
  }

  private async pauseUntilHealthy(ch: ConfirmChannel): Promise<void> {
    if (this.pausedUntilHealthy) return;
    this.pausedUntilHealthy = true;
    const tag = this.tag;
    this.tag = null;
    if (tag) await ch.cancel(tag).catch(() => undefined);
    // Delivered but not yet in a batch: hand them back too, or they would sit unacked until a reconnect.
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const d of this.pending.splice(0)) safe(() => ch.nack(d.msg, false, true));
    while (!this.stopping) {
      await new Promise((r) => setTimeout(r, 500));
      const healthy = await Promise.all([
        this.d.db.query('SELECT 1'),
        withTimeout(this.d.redis.ping(), 1000),
      ]).then(
        () => true,
        () => false,
      );
      if (healthy) break;
    }
    this.pausedUntilHealthy = false;
    if (!this.stopping && this.ch) await this.consume(this.ch).catch(() => undefined);
    this.d.log.info('dependencies back: consuming again');
  }

  /** Stops taking messages, lets the batch in flight finish and ack, hands back what was not started. */
  async stop(): Promise<void> {
    this.stopping = true;
    const ch = this.ch;
    if (ch && this.tag) await ch.cancel(this.tag).catch(() => undefined);
    this.tag = null;
    if (this.timer) clearTimeout(this.timer);
    const rest = this.pending.splice(0);
    if (ch && rest.length) this.flush(ch, rest);
    await this.chain;
  }
}

function safe(f: () => void): void {
  try {
    f();
  } catch {
    // channel already closed: the broker requeues unacked messages itself
  }
}
