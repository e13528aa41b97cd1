import { Cluster, Redis, type ClusterOptions, type RedisOptions as IoRedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { ReplicaBarrier, registerBarrier } from './barrier.js';
import type { RedisAuth, RedisTarget } from './target.js';

/**
 * What the code holds: a single server's or Sentinel's client (`Redis`) or a `Cluster`. Both speak the
 * commands Stampede uses (every multi-key command, MULTI and script touches one activity's hash tag);
 * where the two differ (a command over several activities, SCAN) core/redis/multi-key.ts does it.
 */
export type RedisClient = Redis | Cluster;

export interface RedisOptions {
  /** Where Redis is (config `redis`); `url` is the single-server shorthand. */
  target?: RedisTarget;
  url?: string;
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

const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 10), 2000);
const sentinelRetry = (times: number) => Math.min(50 * 2 ** Math.min(times, 10), 500);

/**
 * A replica that used to be the master answers writes with READONLY: reconnect (Sentinel names the new
 * master) and re-send. Safe for every script: each one's first write is refused before it changed anything.
 */
const reconnectOnError = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);

function nodeOptions(o: RedisOptions, auth?: RedisAuth): IoRedisOptions {
  return {
    connectionName: o.name,
    lazyConnect: false,
    connectTimeout: 2000,
    commandTimeout: o.commandTimeoutMs,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy,
    reconnectOnError,
    ...(auth ? { username: auth.username, password: auth.password, tls: auth.tls ? {} : undefined } : {}),
  };
}

function build(o: RedisOptions, t: RedisTarget): RedisClient {
  const autoPipelining = o.autoPipelining ?? false;
  if (t.mode === 'single')
    return new Redis(t.url, { ...nodeOptions(o), enableAutoPipelining: autoPipelining });
  if (t.mode === 'sentinel') {
    return new Redis({
      ...nodeOptions(o, t.auth),
      enableAutoPipelining: autoPipelining,
      sentinels: t.sentinels,
      name: t.name,
      role: 'master',
      sentinelPassword: t.sentinelPassword,
      enableTLSForSentinelMode: t.auth.tls,
      // A failover is seconds and each attempt asks a Sentinel, not the dead master: retrying at most every
      // 500 ms reconnects soon after the promotion (with the 2 s cap the first 202 came ~1 s after it).
      retryStrategy: sentinelRetry,
      sentinelRetryStrategy: sentinelRetry,
    });
  }
  const cluster: ClusterOptions = {
    redisOptions: nodeOptions(o, t.auth),
    // Off in Cluster mode: ioredis handles a MOVED for a whole autopipeline, and the batches after a
    // reshard kept going to the old node until the purchase timed out (ioredis#2075; the MOVED test).
    enableAutoPipelining: false,
    enableReadyCheck: true,
    clusterRetryStrategy: retryStrategy,
    // A MOVED/ASK (resharding, failover) is followed at once; CLUSTERDOWN waits for the cluster to heal.
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    scaleReads: 'master',
  };
  return new Cluster(t.nodes, cluster);
}

/**
 * A client that reconnects forever with capped back-off. Commands sent while connected and left unanswered
 * by a drop are re-sent after reconnect (ioredis default): the scripts are written to be replay-safe.
 * Callers on the hot path check `status === 'ready'` first and answer 503 at once when it is not.
 */
export function createRedis(o: RedisOptions): RedisClient {
  const target: RedisTarget = o.target ?? {
    mode: 'single',
    url: o.url ?? 'redis://127.0.0.1:6379',
    waitReplicas: 0,
    waitTimeoutMs: 500,
  };
  const redis = build(o, target);
  if (target.waitReplicas > 0 && redis instanceof Redis)
    registerBarrier(redis, new ReplicaBarrier(redis, target.waitReplicas, target.waitTimeoutMs));
  let warned = false;
  redis.on('error', (err: Error) => {
    // One line per outage, not one per reconnect attempt.
    if (!warned) o.log.warn({ err: err.message, client: o.name, mode: target.mode }, 'redis error');
    warned = true;
  });
  redis.on('ready', () => {
    if (warned) o.log.info({ client: o.name, mode: target.mode }, 'redis ready again');
    warned = false;
  });
  return redis;
}

/** QUIT lets queued replies arrive; without a connection it would wait forever, so disconnect instead. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
