import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Registry } from 'prom-client';
import type { TokenService } from '../../core/auth/jwt.js';
import type { Logger } from '../../core/log.js';
import type { ClusterLimiter, LimitSpec } from '../../core/rate-limit.js';
import type { RedisClient } from '../../core/redis/client.js';
import { RoomScripts } from '../../core/redis/room-scripts.js';
import type { Scripts } from '../../core/redis/scripts.js';
import type { ActivityCache } from '../activity-cache.js';
import type { Challenges } from '../challenge.js';
import type { SeckillConfig } from '../config.js';
import type { PurchaseTokens } from '../purchase-token.js';
import { Admitter } from './admitter.js';
import { DrawCache } from './draw.js';
import { roomMetrics } from './metrics.js';
import { mountRoomRoutes } from './routes.js';
import { RoomView } from './view.js';

export interface RoomParts {
  app: Express;
  config: SeckillConfig;
  redis: RedisClient;
  scripts: Scripts;
  registry: Registry;
  log: Logger;
  tokens: TokenService;
  cache: ActivityCache;
  purchaseTokens: PurchaseTokens;
  challenges: Challenges;
  limiter: (scope: string, limits: LimitSpec[]) => ClusterLimiter;
}

/** The waiting room of a seckill process: its routes, its view of the rooms and its admitter. */
export function buildRoom(p: RoomParts): { admitter: Admitter } {
  const room = new RoomScripts(p.redis);
  const metrics = roomMetrics(p.registry);
  const { config } = p;
  mountRoomRoutes(p.app, {
    tokens: p.tokens,
    cache: p.cache,
    room,
    view: new RoomView({
      room,
      prefix: config.prefix,
      intervalMs: config.queueStatusMs,
      redisTimeoutMs: config.redisTimeoutMs,
    }),
    draws: new DrawCache(p.redis, config.prefix, config.redisTimeoutMs),
    prefix: config.prefix,
    purchaseTokens: p.purchaseTokens,
    challenges: p.challenges,
    metrics,
    joinLimiter: p.limiter('queue', [{ name: 'per-user', count: config.ratePerUser, periodMs: 1000 }]),
    pollsPerUser: config.ratePerUser,
    pollsPerIp: config.ratePerIp,
  });
  const admitter = new Admitter({
    redis: p.redis,
    scripts: p.scripts,
    room,
    prefix: config.prefix,
    holder: `seckill-${process.pid}-${randomUUID()}`,
    tickMs: config.queueTickMs,
    scanMs: 1000,
    metrics,
    log: p.log,
  });
  return { admitter };
}
