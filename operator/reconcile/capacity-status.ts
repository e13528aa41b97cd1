import type { Condition } from '../model.js';
import { condition, type Boundaries, type Observed } from './status.js';

/**
 * CapacityReady: the room the sale needs exists before the crowd. In [start − capacityLead,
 * start − scaling.leadTime) the placeholder pods are all Running; from then on the targets have the floor's
 * pods Ready; and Redis holds the sale (Preheated). False outside [start − capacityLead, end).
 */
export function capacityReady(b: Boundaries, o: Observed, prev: Condition[]): Condition {
  const no = (reason: string, message: string) => condition('CapacityReady', false, reason, message, o, prev);
  if (o.now >= b.end) return no('Ended', 'the sale has ended');
  const c = o.capacity;
  if (o.now < b.capacityAt || !c)
    return no('Waiting', `placeholders from ${new Date(b.capacityAt).toISOString()}`);
  if (c.ready < c.wanted)
    return c.stage === 'placeholders'
      ? no('PlaceholdersPending', `${c.ready} of ${c.wanted} placeholder pods Running`)
      : no('FloorPodsNotReady', `${c.ready} of ${c.wanted} floor pods Ready`);
  if (!o.preheat?.ok) return no('NotPreheated', 'the sale is not preheated (verified) yet');
  const what = c.stage === 'placeholders' ? 'placeholder pods Running' : 'floor pods Ready';
  return condition('CapacityReady', true, 'Ready', `${c.ready} of ${c.wanted} ${what}; preheated`, o, prev);
}
