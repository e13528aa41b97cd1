import { z } from 'zod';
import type { OrderPlaced } from '../core/messaging/topology.js';
import { ACTIVITY_NAME } from '../core/redis/keys.js';

const schema = z
  .object({
    orderId: z.string().uuid(),
    activity: z.string().regex(ACTIVITY_NAME),
    userId: z.string().min(1).max(64),
    quantity: z.number().int().min(1).max(1000),
    placedAt: z.string(),
    requestId: z.string().max(128),
  })
  .strict();

/** A message body, or null when it is not an `order.placed` we can act on (it goes to the parking lot). */
export function parseOrderPlaced(content: Buffer): OrderPlaced | null {
  try {
    return validOrderPlaced(JSON.parse(content.toString('utf8')));
  } catch {
    return null;
  }
}

/** An already parsed body (an item of a batch message), checked as parseOrderPlaced checks a body. */
export function validOrderPlaced(v: unknown): OrderPlaced | null {
  const r = schema.safeParse(v);
  return r.success ? r.data : null;
}

/** What can still be learnt from a malformed message, to give its unit back. */
export function salvage(content: Buffer): { activity: string; userId: string; orderId: string } | null {
  try {
    const v = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    const { activity, userId, orderId } = v;
    if (
      typeof activity === 'string' &&
      ACTIVITY_NAME.test(activity) &&
      typeof userId === 'string' &&
      typeof orderId === 'string'
    ) {
      return { activity, userId, orderId };
    }
  } catch {
    // nothing to salvage
  }
  return null;
}
