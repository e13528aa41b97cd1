import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import { AppError, ErrorCode } from '../errors.js';
import { activityKeys, roomsIndexKey, stockEventsChannel } from '../redis/keys.js';
import { PreheatCode, Scripts } from '../redis/scripts.js';
import {
  decodeRoomRule,
  decodeTokenRule,
  encodeRoomRule,
  encodeTokenRule,
  type ActivityInfo,
} from './spec.js';

export interface PreheatResult {
  code: PreheatCode;
  remaining: number;
  total: number;
}

/**
 * Writes an activity's stock and info to Redis (lua/preheat.lua): never overwrites live stock, adds the
 * difference when the total grows, refuses a total below what is already sold. `held` is only for a
 * rebuild from Postgres (activity/rebuild.ts): the units orders hold when the stock key is gone.
 * A sale with a waiting room also gets the room's seed and its commitment (only the first time: the script
 * keeps a seed it has) and its entry in the rooms index the admitters scan.
 */
export async function preheat(
  redis: RedisClient,
  prefix: string,
  info: ActivityInfo,
  held = 0,
): Promise<PreheatResult> {
  const room = encodeRoomRule(info.waitingRoom);
  const seed = room ? randomBytes(32).toString('hex') : '';
  const commit = room ? createHash('sha256').update(seed).digest('hex') : '';
  const r = await new Scripts(redis).preheat(activityKeys(prefix, info.name), [
    info.total,
    info.startMs,
    info.endMs,
    info.maxPerUser,
    info.price,
    info.paused ? 'paused' : 'active',
    stockEventsChannel(prefix),
    info.name,
    held,
    encodeTokenRule(info.purchaseToken),
    room,
    seed,
    commit,
  ]);
  if (r.code === PreheatCode.BELOW_SOLD) {
    const sold = r.total - r.remaining;
    throw new AppError(
      ErrorCode.STOCK_BELOW_SOLD,
      `stock ${info.total} is below the ${sold} units already sold for ${info.name}`,
      { extra: { sold, total: r.total } },
    );
  }
  // Another slot than the activity's (Cluster mode): its own command, after the room exists. Scored by the
  // end, so an admitter can tell a finished sale without reading it.
  if (room) await redis.zadd(roomsIndexKey(prefix), info.endMs, info.name);
  return r;
}

export interface StoredActivity {
  info: ActivityInfo;
  /** null when the stock key is missing (not preheated); never read as zero. */
  remaining: number | null;
}

/** Reads an activity back from Redis in one round trip; null when there is no info hash. */
export async function readActivity(
  redis: RedisClient,
  prefix: string,
  name: string,
): Promise<StoredActivity | null> {
  const k = activityKeys(prefix, name);
  const res = await redis.multi().hgetall(k.info).get(k.stock).exec();
  const hash = (res?.[0]?.[1] ?? {}) as Record<string, string>;
  const stock = res?.[1]?.[1] as string | null | undefined;
  if (!hash.start) return null;
  const info: ActivityInfo = {
    name,
    total: Number(hash.total),
    startMs: Number(hash.start),
    endMs: Number(hash.end),
    maxPerUser: Number(hash.maxPerUser),
    price: hash.price ?? '0',
    paused: hash.state === 'paused',
  };
  const purchaseToken = decodeTokenRule(hash.token);
  if (purchaseToken) info.purchaseToken = purchaseToken;
  // Keys in infoFromSpec's order: the operator compares the two as JSON.
  const waitingRoom = decodeRoomRule(hash.room, purchaseToken?.difficulty);
  if (waitingRoom) info.waitingRoom = waitingRoom;
  return {
    info,
    remaining: stock === null || stock === undefined ? null : Number(stock),
  };
}
