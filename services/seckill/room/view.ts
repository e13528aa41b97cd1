import type { ActivityInfo } from '../../core/activity/spec.js';
import { AppError, ErrorCode, isAppError, unavailable } from '../../core/errors.js';
import { activityKeys } from '../../core/redis/keys.js';
import type { RoomScripts, RoomSummary } from '../../core/redis/room-scripts.js';
import { withTimeout } from '../../core/timeout.js';
import { placeIsFixed, queueStatus, type KnownPlace, type QueueStatus } from './status.js';

export interface RoomViewOptions {
  room: RoomScripts;
  prefix: string;
  /** How old a room's summary may be before the next status poll reads it again. */
  intervalMs: number;
  redisTimeoutMs: number;
  /** Fixed places kept in memory at most (beyond it the oldest go: one more Redis read, never a wrong answer). */
  placeCap?: number;
  now?: () => number;
}

interface Summary {
  value: RoomSummary;
  at: number;
  /** Measured admissions per second (moving average); null until two reads saw the room open. */
  rate: number | null;
}

const EWMA = 0.3;

/**
 * What one seckill process knows of its rooms, so that a hundred thousand shoppers polling their status
 * cost one Redis read per room per interval: the room's summary (shared, single-flight) and each fixed
 * place (a position never moves once the pre-queue has closed; only the head does). A shopper whose place
 * the head has passed is read again (admitted, bought or expired: per-user facts), which the admission
 * rate bounds.
 */
export class RoomView {
  private readonly summaries = new Map<string, Summary>();
  private readonly loading = new Map<string, Promise<Summary>>();
  private readonly places = new Map<string, KnownPlace>();
  private readonly cap: number;
  private readonly now: () => number;

  constructor(private readonly o: RoomViewOptions) {
    this.cap = o.placeCap ?? 200_000;
    this.now = o.now ?? Date.now;
  }

  /** The room's summary, at most intervalMs old, with its measured admission rate. */
  async summary(activity: string): Promise<Summary> {
    const s = this.summaries.get(activity);
    if (s && this.now() - s.at < this.o.intervalMs) return s;
    const pending = this.loading.get(activity);
    if (pending) return pending;
    const p = this.load(activity, s).finally(() => this.loading.delete(activity));
    this.loading.set(activity, p);
    return p;
  }

  /** A shopper's status by user id or by ticket; NOT_IN_QUEUE when there is no such place. */
  async status(
    info: ActivityInfo,
    by: 'user' | 'ticket',
    id: string,
  ): Promise<QueueStatus & { userId: string }> {
    const s = await this.summary(info.name);
    const key = `${info.name}\n${by}\n${id}`;
    const known = this.places.get(key);
    const rate = s.rate ?? info.waitingRoom?.admitPerSecond ?? 1;
    const now = this.now();
    if (known && known.position > s.value.popped && now < info.endMs) {
      return { ...queueStatus(info, s.value, known, now, rate), userId: known.userId };
    }
    const place = await this.read(() => this.o.room.place(activityKeys(this.o.prefix, info.name), by, id));
    if (!place) throw new AppError(ErrorCode.NOT_IN_QUEUE, 'no place in this waiting room');
    if (placeIsFixed(s.value, place)) this.remember(key, place);
    return { ...queueStatus(info, s.value, place, now, rate), userId: place.userId };
  }

  private async load(activity: string, previous: Summary | undefined): Promise<Summary> {
    const value = await this.read(() => this.o.room.summary(activityKeys(this.o.prefix, activity)));
    if (!value) throw new AppError(ErrorCode.NOT_FOUND, 'this sale has no waiting room');
    const at = this.now();
    let rate = previous?.rate ?? null;
    if (previous && value.openedAt !== null && previous.value.openedAt !== null && at > previous.at) {
      const sample = ((value.admitted - previous.value.admitted) * 1000) / (at - previous.at);
      rate = rate === null ? sample : rate + EWMA * (sample - rate);
    }
    const s = { value, at, rate };
    this.summaries.set(activity, s);
    return s;
  }

  private remember(key: string, place: KnownPlace): void {
    this.places.delete(key);
    this.places.set(key, {
      ticket: place.ticket,
      userId: place.userId,
      prequeue: place.prequeue,
      position: place.position,
    });
    while (this.places.size > this.cap) this.places.delete(this.places.keys().next().value as string);
  }

  private read<T>(call: () => Promise<T>): Promise<T> {
    return withTimeout(call(), this.o.redisTimeoutMs, 'waiting room read').catch((err: unknown) => {
      throw isAppError(err) ? err : unavailable('waiting room store unavailable', err);
    });
  }
}
