import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export interface RedisOptions {
  url: string;
  log: Logger;
  name: string;
  /** Per-command cap; a hung Redis becomes an error after this long instead of a hanging request. */
  commandTimeoutMs?: number;
  /**
   * Commands issued in one event-loop tick go out in one write. On the purchase path each script call was
   * its own socket write, and those writes were the largest single cost in the profile.
   */
  autoPipelining?: boolean;
}

/**
 * A client that reconnects forever with capped back-off. Commands sent while connected and left unanswered
 * by a drop are re-sent after reconnect (ioredis default): the scripts are written to be replay-safe.
 * Callers on the hot path check `status === 'ready'` first and answer 503 at once when it is not.
 */
export function createRedis(o: RedisOptions): Redis {
  const redis = new Redis(o.url, {
    connectionName: o.name,
    lazyConnect: false,
    connectTimeout: 2000,
    commandTimeout: o.commandTimeoutMs,
    enableAutoPipelining: o.autoPipelining ?? false,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 2000),
  });
  let warned = false;
  redis.on('error', (err: Error) => {
    // One line per outage, not one per reconnect attempt.
    if (!warned) o.log.warn({ err: err.message, client: o.name }, 'redis error');
    warned = true;
  });
  redis.on('ready', () => {
    if (warned) o.log.info({ client: o.name }, 'redis ready again');
    warned = false;
  });
  return redis;
}

/** QUIT lets queued replies arrive; without a connection it would wait forever, so disconnect instead. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
