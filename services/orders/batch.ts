import type { ConsumeMessage } from 'amqplib';
import type { RedisClient } from '../core/redis/client.js';
import type { Sequelize } from 'sequelize';
import type { OrderPlaced } from '../core/messaging/topology.js';
import { activityKeys } from '../core/redis/keys.js';
import { Scripts } from '../core/redis/scripts.js';
import { batchItemOf } from './deliveries.js';
import { parseOrderPlaced, validOrderPlaced } from './message.js';
import { persistBatch, type ActivityIds, type Outcome } from './persist.js';
import { BatchTrace } from './tracing.js';

export type Verdict =
  | { kind: 'done'; outcome: Outcome | 'stale' }
  | { kind: 'retry'; reason: string }
  | { kind: 'park'; reason: string; order: OrderPlaced | null };

/**
 * Decides what happens to each message of a batch: claim the valid ones in Redis (one call per activity),
 * write the claimed ones to Postgres in one transaction. Throws only when a dependency is unreachable,
 * so the caller can hand the whole batch back to the broker untouched.
 */
export async function processBatch(
  msgs: ConsumeMessage[],
  deps: { db: Sequelize; redis: RedisClient; prefix: string; ids: ActivityIds },
): Promise<Verdict[]> {
  const t = BatchTrace.start(msgs);
  if (!t) return decide(msgs, deps, null);
  try {
    const verdicts = await t.run(() => decide(msgs, deps, t));
    t.end();
    return verdicts;
  } catch (err) {
    t.end((err as Error).message);
    throw err;
  }
}

async function decide(
  msgs: ConsumeMessage[],
  deps: { db: Sequelize; redis: RedisClient; prefix: string; ids: ActivityIds },
  t: BatchTrace | null,
): Promise<Verdict[]> {
  const step = <T>(name: string, indexes: number[], fn: () => Promise<T>) =>
    t ? t.step(name, indexes, fn) : fn();
  const verdicts: Verdict[] = new Array(msgs.length);
  const valid: { i: number; order: OrderPlaced }[] = [];
  msgs.forEach((m, i) => {
    const item = batchItemOf(m);
    const order = item === undefined ? parseOrderPlaced(m.content) : validOrderPlaced(item);
    if (order) valid.push({ i, order });
    else verdicts[i] = { kind: 'park', reason: 'malformed order.placed message', order: null };
  });

  const claimed = await step(
    'redis claim.lua',
    valid.map((v) => v.i),
    () => claimAll(valid, deps),
  );
  const toWrite = valid.filter((_, k) => claimed[k]);
  valid.forEach((v, k) => {
    if (!claimed[k]) verdicts[v.i] = { kind: 'done', outcome: 'stale' };
  });
  const outcomes = toWrite.length
    ? await step(
        'postgres INSERT orders',
        toWrite.map((v) => v.i),
        () =>
          persistBatch(
            deps.db,
            deps.ids,
            toWrite.map((v) => v.order),
          ),
      )
    : [];
  toWrite.forEach((v, k) => {
    const outcome = outcomes[k] as Outcome;
    verdicts[v.i] =
      outcome === 'unknown_activity'
        ? { kind: 'retry', reason: `activity ${v.order.activity} is not registered in Postgres` }
        : { kind: 'done', outcome };
  });
  return verdicts;
}

async function claimAll(
  valid: { order: OrderPlaced }[],
  deps: { redis: RedisClient; prefix: string },
): Promise<boolean[]> {
  const scripts = new Scripts(deps.redis);
  const byActivity = new Map<string, number[]>();
  valid.forEach((v, k) => byActivity.set(v.order.activity, [...(byActivity.get(v.order.activity) ?? []), k]));
  const result: boolean[] = new Array(valid.length).fill(false);
  await Promise.all(
    [...byActivity].map(async ([activity, idx]) => {
      const pairs = idx.map((k) => ({
        userId: (valid[k] as { order: OrderPlaced }).order.userId,
        orderId: (valid[k] as { order: OrderPlaced }).order.orderId,
      }));
      const ok = await scripts.claim(activityKeys(deps.prefix, activity), pairs);
      idx.forEach((k, j) => (result[k] = ok[j] ?? false));
    }),
  );
  return result;
}
