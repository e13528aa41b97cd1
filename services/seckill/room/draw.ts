import { AppError, ErrorCode, isAppError, unavailable } from '../../core/errors.js';
import type { RedisClient } from '../../core/redis/client.js';
import { activityKeys } from '../../core/redis/keys.js';
import { withTimeout } from '../../core/timeout.js';

/** What `GET /seckill/:activity/queue/draw` answers: enough to recompute every pre-queue position. */
export interface Draw {
  activity: string;
  seed: string;
  commitment: string;
  algorithm: string;
  tickets: string[];
}

export const DRAW_ALGORITHM =
  'commitment = sha256(seed); each pre-queue ticket scores the first 13 hex digits of sha1(seed .. ticket) ' +
  'as an integer; ascending score (ties by ticket) is the admission order, ahead of every later joiner';

/**
 * The pre-queue is frozen once the room has opened, so its draw is read once per process and kept (a
 * few rooms at most: the oldest goes beyond `cap`).
 */
export class DrawCache {
  private readonly draws = new Map<string, Promise<Draw>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly timeoutMs: number,
    private readonly cap = 8,
  ) {}

  draw(activity: string): Promise<Draw> {
    const known = this.draws.get(activity);
    if (known) return known;
    const p = this.read(activity);
    this.draws.set(activity, p);
    p.catch(() => this.draws.delete(activity));
    while (this.draws.size > this.cap) this.draws.delete(this.draws.keys().next().value as string);
    return p;
  }

  private async read(activity: string): Promise<Draw> {
    const k = activityKeys(this.prefix, activity);
    const read = async (): Promise<Draw> => {
      const [room, tickets] = await Promise.all([
        this.redis.hmget(k.room, 'openedAt', 'seed', 'commit'),
        this.redis.smembers(k.prequeue),
      ]);
      const [openedAt, seed, commit] = room;
      if (!openedAt || !seed) {
        throw new AppError(ErrorCode.NOT_STARTED, 'the draw is revealed when the room opens at the start');
      }
      return { activity, seed, commitment: commit ?? '', algorithm: DRAW_ALGORITHM, tickets: tickets.sort() };
    };
    return withTimeout(read(), this.timeoutMs * 5, 'draw read').catch((err: unknown) => {
      throw isAppError(err) ? err : unavailable('waiting room store unavailable', err);
    });
  }
}
