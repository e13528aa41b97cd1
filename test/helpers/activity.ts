import type { Redis } from 'ioredis';
import { preheat } from '../../services/core/activity/preheat.js';
import type { ActivityInfo } from '../../services/core/activity/spec.js';

let n = 0;

/** Preheats a live activity (window open for an hour) unless told otherwise. */
export async function liveActivity(
  redis: Redis,
  prefix: string,
  over: Partial<ActivityInfo> = {},
): Promise<ActivityInfo> {
  const now = Date.now();
  const info: ActivityInfo = {
    name: `sale-${process.pid}-${++n}`,
    total: 10,
    startMs: now - 60_000,
    endMs: now + 3_600_000,
    maxPerUser: 1,
    price: '9.99',
    paused: false,
    ...over,
  };
  await preheat(redis, prefix, info);
  return info;
}
