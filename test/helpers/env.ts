import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import amqp from 'amqplib';
import { Redis } from 'ioredis';
import { DEV_JWT_SECRET } from '../../services/core/config.js';
import { createLogger } from '../../services/core/log.js';
import { orderTopology } from '../../services/core/messaging/topology.js';
import { TokenService } from '../../services/core/auth/jwt.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/stampede';

export const quietLog = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
export const tokens = new TokenService(DEV_JWT_SECRET);

/** A fresh STAMPEDE_PREFIX: every test's Redis keys and RabbitMQ names live under its own. */
export const randomPrefix = (tag = 't'): string => `${tag}-${randomBytes(5).toString('hex')}`;

export const newRedis = (): Redis => new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });

export async function dropRedisPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

export async function dropAmqpPrefix(prefix: string): Promise<void> {
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    const t = orderTopology(prefix);
    for (const q of [t.placedQueue, ...t.retryQueues, t.parkedQueue]) await ch.deleteQueue(q);
    await ch.deleteExchange(t.exchange);
    await ch.deleteExchange(t.retryExchange);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Polls `probe` until it returns a truthy value; the deadline only bounds a failing test. */
type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>;

export async function waitFor<T>(
  probe: () => Promise<T> | T,
  what: string,
  timeoutMs = 15_000,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as Truthy<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A loopback port nothing listens on right now (for a child process that must be told its port). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
