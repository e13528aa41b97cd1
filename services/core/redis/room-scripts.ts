import { AppError, ErrorCode, unavailable } from '../errors.js';
import type { RedisClient } from './client.js';
import type { ActivityKeys } from './keys.js';
import { defineScripts, runScript } from './scripts.js';

/** Return codes of lua/queue-admit.lua (see its header). */
export enum AdmitCode {
  ADMITTING = 1,
  SOLD_OUT = 5,
  NOT_FOUND = -1,
  NOT_PREHEATED = -2,
  NOT_STARTED = -3,
  ENDED = -4,
  PAUSED = -5,
  NO_ROOM = -11,
}

/** Return codes of lua/queue-join.lua (see its header). */
export enum RoomCode {
  JOINED = 1,
  ALREADY = 2,
  NOT_FOUND = -1,
  NOT_PREHEATED = -2,
  NOT_OPEN = -3,
  ENDED = -4,
  PAUSED = -5,
  SOLD_OUT = -8,
  NO_ROOM = -11,
}

export interface JoinResult {
  code: RoomCode;
  ticket: string;
  prequeue: boolean;
  /** NOT_OPEN: when the pre-queue opens (epoch ms). */
  opensAt: number;
}

/** The one place a join's return code becomes a typed error; JOINED and ALREADY map to null. */
export function joinError(r: JoinResult, now: number): AppError | null {
  switch (r.code) {
    case RoomCode.JOINED:
    case RoomCode.ALREADY:
      return null;
    case RoomCode.NOT_FOUND:
      return new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
    case RoomCode.NOT_PREHEATED:
      return unavailable('the activity exists but its waiting room is not preheated yet');
    case RoomCode.NOT_OPEN:
      return new AppError(ErrorCode.NOT_STARTED, 'the waiting room is not open yet', {
        retryAfter: Math.max(1, Math.ceil((r.opensAt - now) / 1000)),
        extra: { opensAt: new Date(r.opensAt).toISOString() },
      });
    case RoomCode.ENDED:
      return new AppError(ErrorCode.ENDED);
    case RoomCode.PAUSED:
      return new AppError(ErrorCode.NOT_STARTED, 'the sale is paused');
    case RoomCode.SOLD_OUT:
      return new AppError(ErrorCode.SOLD_OUT);
    case RoomCode.NO_ROOM:
      return new AppError(ErrorCode.NOT_FOUND, 'this sale has no waiting room');
    default:
      return new AppError(ErrorCode.INTERNAL, `unknown queue code ${String(r.code)}`);
  }
}

export interface AdmitResult {
  code: AdmitCode;
  admitted: number;
  active: number;
  waiting: number;
  stock: number;
  noShows: number;
  bought: number;
  /** ms each shopper admitted now waited (from max(join, start)). */
  waits: number[];
}

export interface Place {
  ticket: string;
  userId: string;
  prequeue: boolean;
  /** Counted from the first place ever; -1 once admitted (it left the queue). */
  position: number;
  /** -1 when never admitted. */
  admitExpiry: number;
  /** "orderId:quantity", "" when the user holds no order. */
  buyerEntry: string;
  /** Redis' clock when read. */
  now: number;
}

export interface RoomSummary {
  openedAt: number | null;
  popped: number;
  admitted: number;
  noShows: number;
  bought: number;
  waiting: number;
  active: number;
  preQueue: number;
  /** null: not preheated. */
  stock: number | null;
  commit: string;
  /** "" until the room has opened. */
  seed: string;
  now: number;
}

const ROOM_SCRIPTS = { 'queue-join': 7, 'queue-admit': 8, 'queue-me': 7, 'queue-summary': 6 } as const;

/** The waiting room's scripts (docs/waiting-room.md); every key passed from here, all in one hash tag. */
export class RoomScripts {
  constructor(private readonly redis: RedisClient) {
    defineScripts(redis, ROOM_SCRIPTS);
  }

  async join(k: ActivityKeys, userId: string, ticket: string): Promise<JoinResult> {
    const [code, t, pre, extra] = await runScript<[number, string, number, number]>(
      this.redis,
      'queue-join',
      [k.info, k.stock, k.room, k.queue, k.tickets, k.members, k.prequeue],
      [userId, ticket],
    );
    return { code: code as RoomCode, ticket: String(t), prequeue: pre === 1, opensAt: Number(extra) };
  }

  async admit(k: ActivityKeys, most: number): Promise<AdmitResult> {
    const r = await runScript<number[]>(
      this.redis,
      'queue-admit',
      [k.info, k.stock, k.room, k.queue, k.tickets, k.passes, k.admits, k.buyers],
      [most],
    );
    const [code, admitted, active, waiting, stock, noShows, bought, ...waits] = r.map(Number);
    return {
      code: code as AdmitCode,
      admitted: admitted ?? 0,
      active: active ?? 0,
      waiting: waiting ?? 0,
      stock: stock ?? 0,
      noShows: noShows ?? 0,
      bought: bought ?? 0,
      waits,
    };
  }

  async place(k: ActivityKeys, by: 'user' | 'ticket', id: string): Promise<Place | null> {
    const [found, ticket, userId, pre, position, expiry, buyer, now] = await runScript<
      [number, string, string, number, number, number, string, number]
    >(
      this.redis,
      'queue-me',
      [k.room, k.queue, k.tickets, k.members, k.admits, k.buyers, k.prequeue],
      [by, id],
    );
    if (found !== 1) return null;
    return {
      ticket: String(ticket),
      userId: String(userId),
      prequeue: pre === 1,
      position: Number(position),
      admitExpiry: Number(expiry),
      buyerEntry: String(buyer),
      now: Number(now),
    };
  }

  async summary(k: ActivityKeys): Promise<RoomSummary | null> {
    const r = await runScript<(number | string)[]>(
      this.redis,
      'queue-summary',
      [k.info, k.stock, k.room, k.queue, k.passes, k.prequeue],
      [],
    );
    if (Number(r[0]) !== 1) return null;
    const n = (i: number): number => Number(r[i]);
    return {
      openedAt: n(1) >= 0 ? n(1) : null,
      popped: n(2),
      admitted: n(3),
      noShows: n(4),
      bought: n(5),
      waiting: n(6),
      active: n(7),
      preQueue: n(8),
      stock: n(9) >= 0 ? n(9) : null,
      commit: String(r[10]),
      seed: String(r[11]),
      now: n(12),
    };
  }
}
