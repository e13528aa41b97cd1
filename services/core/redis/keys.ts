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
  };
}

/** Pub/sub channel on which stock changes (returns, preheat) are announced; the message is the activity. */
export const stockEventsChannel = (prefix: string): string => `${prefix}:events:stock`;
