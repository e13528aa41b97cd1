import amqp from 'amqplib';
import type { Redis } from 'ioredis';
import { orderTopology } from '../services/core/messaging/topology.js';

/** Removes what a bench run wrote: its Redis keys and its RabbitMQ queues (with the queued orders). */
export async function dropBenchPrefix(redis: Redis, prefix: string, amqpUrl: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
  const conn = await amqp.connect(amqpUrl);
  const ch = await conn.createChannel();
  const t = orderTopology(prefix);
  for (const q of [t.placedQueue, ...t.retryQueues, t.parkedQueue]) await ch.deleteQueue(q);
  await ch.deleteExchange(t.exchange);
  await ch.deleteExchange(t.retryExchange);
  await conn.close();
}
