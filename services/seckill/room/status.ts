import type { ActivityInfo } from '../../core/activity/spec.js';
import type { Place, RoomSummary } from '../../core/redis/room-scripts.js';

export type QueueState =
  'pre-queue' | 'waiting' | 'admitted' | 'purchased' | 'expired' | 'sold_out' | 'ended';

/** What `GET /seckill/:activity/queue/me` (and the join) answers; docs/waiting-room.md. */
export interface QueueStatus {
  activity: string;
  ticket: string;
  state: QueueState;
  /** 1 = next in line; absent before the opening (the shuffle is not drawn yet) and once admitted. */
  position?: number;
  ahead?: number;
  etaSeconds?: number;
  opensAt: string;
  startsAt: string;
  admission?: { expiresAt: string };
  orderId?: string;
}

/** The parts of a place that never change once the pre-queue has closed, so a process may keep them. */
export interface KnownPlace {
  ticket: string;
  userId: string;
  prequeue: boolean;
  position: number;
}

/**
 * A shopper's status from the room's shared summary and the shopper's place, as of `now`. Pure: the same
 * inputs give the same answer, on every process. `rate` is the measured admissions per second (the
 * configured rate until there is a measurement).
 */
export function queueStatus(
  info: ActivityInfo,
  room: RoomSummary,
  place: KnownPlace & Partial<Pick<Place, 'admitExpiry' | 'buyerEntry'>>,
  now: number,
  rate: number,
): QueueStatus {
  const opensBefore = info.waitingRoom?.opensBeforeMs ?? 0;
  const base = {
    activity: info.name,
    ticket: place.ticket,
    opensAt: new Date(info.startMs - opensBefore).toISOString(),
    startsAt: new Date(info.startMs).toISOString(),
  };
  const expiry = place.admitExpiry ?? -1;
  if (place.buyerEntry) return { ...base, state: 'purchased', orderId: place.buyerEntry.split(':')[0] };
  if (expiry > 0 && expiry > now)
    return { ...base, state: 'admitted', admission: { expiresAt: iso(expiry) } };
  if (expiry > 0) return { ...base, state: 'expired' };
  if (now >= info.endMs) return { ...base, state: 'ended' };
  if (room.stock !== null && room.stock <= 0) return { ...base, state: 'sold_out' };
  if (room.openedAt === null && place.prequeue) return { ...base, state: 'pre-queue' };
  const ahead = Math.max(0, place.position - room.popped - 1);
  const eta = Math.ceil(ahead / Math.max(rate, 0.001));
  return { ...base, state: 'waiting', position: ahead + 1, ahead, etaSeconds: eta };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** True when a place's position can no longer move but by admissions: the pre-queue has closed. */
export const placeIsFixed = (room: RoomSummary, place: KnownPlace): boolean =>
  place.position > 0 && (room.openedAt !== null || !place.prequeue);
