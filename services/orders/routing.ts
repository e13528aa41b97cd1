import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ROUTING, retryRoutingKey, type OrderTopology } from '../core/messaging/topology.js';

export const ATTEMPT_HEADER = 'x-attempt';

export const attemptOf = (msg: ConsumeMessage): number => {
  const n = Number(msg.properties.headers?.[ATTEMPT_HEADER] ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
};

/** The retry tier a failed message goes to next, or null when it has used every tier (park it). */
export function nextTier(attempt: number, tiers: number): number | null {
  return attempt < tiers ? attempt + 1 : null;
}

function republish(
  ch: ConfirmChannel,
  t: OrderTopology,
  key: string,
  msg: ConsumeMessage,
  headers: object,
): Promise<void> {
  return new Promise((resolve, reject) => {
    ch.publish(
      t.retryExchange,
      key,
      msg.content,
      {
        ...msg.properties,
        persistent: true,
        mandatory: true,
        headers: { ...msg.properties.headers, ...headers },
      },
      (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
    );
  });
}

/** Sends a copy to retry tier `tier` with the attempt counted in our own header (not x-death). */
export const toRetry = (
  ch: ConfirmChannel,
  t: OrderTopology,
  msg: ConsumeMessage,
  tier: number,
  reason: string,
) =>
  republish(ch, t, retryRoutingKey(tier), msg, {
    [ATTEMPT_HEADER]: tier,
    'x-last-error': reason.slice(0, 500),
  });

/** Sends a copy to the parking lot, where it stays until a person looks at it. */
export const toParking = (ch: ConfirmChannel, t: OrderTopology, msg: ConsumeMessage, reason: string) =>
  republish(ch, t, ROUTING.parked, msg, {
    'x-park-reason': reason.slice(0, 500),
    'x-parked-at': new Date().toISOString(),
  });
