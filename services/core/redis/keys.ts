/**
 * Redis key names (DESIGN §6). Every key of one activity carries the literal hash tag `{a:<activity>}` so a
 * Lua script touching several of them stays on one Redis Cluster slot.
 */
export interface ActivityKeys {
  stock: string;
  buyers: string;
  info: string;
  /** userId → Idempotency-Key of the user's accepted purchase. */
  idem: string;
  /** orderId → 1: the order worker has taken the order (lua/claim.lua). */
  claimed: string;
  /** orderId → 1: the order's unit was given back (lua/release.lua). */
  released: string;
  /**
   * orderId → 1: an Idempotency-Key replay was answered for this order (lua/purchase.lua), so another
   * process may have told the shopper 202: no seckill restore may take its unit back any more.
   */
  kept: string;
  /** Spent purchase-token nonces (lua/purchase.lua); the set expires after the window, nothing leaks. */
  tokens: string;
  /** Waiting room (docs/waiting-room.md): hash of seed, commitment, counters and the admission pacing. */
  room: string;
  /** Waiting room: zset ticket -> order score (shuffled pre-queue below 2^52, then arrival order). */
  queue: string;
  /** Waiting room: hash ticket -> "userId|joinMs". */
  tickets: string;
  /** Waiting room: hash userId -> ticket (one place per user). */
  members: string;
  /** Waiting room: set of the tickets that joined before the room opened (published with the seed). */
  prequeue: string;
  /** Waiting room: zset userId -> expiry ms of the admissions holding a slot now. */
  passes: string;
  /** Waiting room: hash userId -> expiry ms of every admission ever made (admitted / expired). */
  admits: string;
  /** Waiting room: the admitter's lease (one admitter per sale). */
  roomLease: string;
}

/** Kubernetes object names (DNS-1123 subdomain) are the activity ids; nothing else can exist. */
export const ACTIVITY_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function activityKeys(prefix: string, activity: string): ActivityKeys {
  const base = `${prefix}:{a:${activity}}`;
  return {
    stock: `${base}:stock`,
    buyers: `${base}:buyers`,
    info: `${base}:info`,
    idem: `${base}:idem`,
    claimed: `${base}:claimed`,
    released: `${base}:released`,
    kept: `${base}:kept`,
    tokens: `${base}:tokens`,
    room: `${base}:room`,
    queue: `${base}:queue`,
    tickets: `${base}:tickets`,
    members: `${base}:members`,
    prequeue: `${base}:prequeue`,
    passes: `${base}:passes`,
    admits: `${base}:admits`,
    roomLease: `${base}:room-lease`,
  };
}

/** Pub/sub channel on which stock changes (returns, preheat) are announced; the message is the activity. */
export const stockEventsChannel = (prefix: string): string => `${prefix}:events:stock`;

/** The sales that have a waiting room: zset activity -> end ms (preheat adds; admitters scan it). */
export const roomsIndexKey = (prefix: string): string => `${prefix}:rooms`;
