import { Cluster } from 'ioredis';
import type { RedisClient } from './client.js';

/**
 * GET of keys that may live in different slots (several activities' stock). One MGET on a single server;
 * in Cluster mode an MGET over several hash tags is CROSSSLOT, so one GET per key, sent together (ioredis
 * routes each to its slot's master; with autopipelining they share a write per node).
 */
export async function getMany(redis: RedisClient, keys: string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  if (redis instanceof Cluster) return Promise.all(keys.map((k) => redis.get(k)));
  return redis.mget(...keys);
}
