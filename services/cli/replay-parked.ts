import amqp, { type ConfirmChannel, type GetMessage } from 'amqplib';
import type { RedisClient } from '../core/redis/client.js';
import { createLogger } from '../core/log.js';
import {
  declareOrderTopology,
  orderTopology,
  ROUTING,
  type OrderTopology,
} from '../core/messaging/topology.js';
import { closeRedis, createRedis } from '../core/redis/client.js';
import { ACTIVITY_NAME, activityKeys } from '../core/redis/keys.js';
import { Scripts } from '../core/redis/scripts.js';
import { parseOrderPlaced } from '../orders/message.js';
import { loadCliConfig, type CliConfig } from './config.js';

export const REPLAY_PARKED_USAGE = `usage: stampede orders replay-parked [--activity <name>]
  Re-drives parked orders whose unit is still held (their buyer entry holds the order and nothing gave
  the unit back) into rows: each goes back to ${'`<prefix>.orders.placed`'} with a fresh attempt count.
  Orders whose unit was given back, malformed messages and other activities' orders stay parked.`;

interface Tally {
  replayed: number;
  notHeld: number;
  left: number;
}

function activityOption(args: string[]): string | undefined {
  const i = args.indexOf('--activity');
  if (i < 0) return undefined;
  const name = args[i + 1];
  if (!name || !ACTIVITY_NAME.test(name)) throw new Error('--activity needs an activity name');
  return name;
}

/** Takes the whole parking lot (unacked), decides each message, acks the re-driven, requeues the rest. */
export async function replayParked(config: CliConfig, args: string[]): Promise<Tally> {
  const only = activityOption(args);
  const topology = orderTopology(config.prefix, config.retryTiersMs);
  const redis = createRedis({ target: config.redis, log: createLogger('cli', 'warn'), name: 'cli' });
  const conn = await amqp.connect(config.amqpUrl);
  const tally: Tally = { replayed: 0, notHeld: 0, left: 0 };
  try {
    const ch = await conn.createConfirmChannel();
    await declareOrderTopology(ch, topology);
    const lot: GetMessage[] = [];
    for (let m = await ch.get(topology.parkedQueue); m; m = await ch.get(topology.parkedQueue)) lot.push(m);
    const keep: GetMessage[] = [];
    for (const m of lot) {
      const verdict = await replayOne(ch, topology, redis, config.prefix, m, only);
      tally[verdict]++;
      if (verdict === 'replayed') ch.ack(m);
      else keep.push(m);
    }
    for (const m of keep) ch.nack(m, false, true);
    await ch.waitForConfirms();
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
    await closeRedis(redis);
  }
  return tally;
}

async function replayOne(
  ch: ConfirmChannel,
  t: OrderTopology,
  redis: RedisClient,
  prefix: string,
  m: GetMessage,
  only: string | undefined,
): Promise<keyof Tally> {
  const order = parseOrderPlaced(m.content);
  if (!order || (only !== undefined && order.activity !== only)) return 'left';
  // Marks it claimed again only while its unit is held: one given back may have been sold to someone else.
  const k = activityKeys(prefix, order.activity);
  if (!(await new Scripts(redis).park(k, order.userId, order.orderId, '1'))) return 'notHeld';
  await new Promise<void>((resolve, reject) =>
    ch.publish(
      t.exchange,
      ROUTING.placed,
      m.content,
      {
        ...m.properties,
        persistent: true,
        mandatory: true,
        headers: { ...m.properties.headers, 'x-attempt': 0, 'x-replayed-at': new Date().toISOString() },
      },
      (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
    ),
  );
  return 'replayed';
}

/** `stampede orders <subcommand>`: only `replay-parked` so far. */
export async function runOrdersCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'replay-parked' || rest.includes('--help') || rest.includes('-h')) {
    (sub === 'replay-parked' ? console.log : console.error)(REPLAY_PARKED_USAGE);
    return sub === 'replay-parked' ? 0 : 2;
  }
  const t = await replayParked(loadCliConfig(), rest);
  console.log(
    `replayed ${t.replayed} parked order(s); kept parked: ${t.notHeld} whose unit is no longer held, ` +
      `${t.left} malformed or of another activity`,
  );
  return 0;
}
