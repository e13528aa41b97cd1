import { parseDuration } from '../../services/core/activity/duration.js';
import type { ActivitySpec } from '../../services/core/activity/spec.js';
import type { Condition, Phase } from '../model.js';
import type { Boundaries } from './status.js';

/**
 * When the purchase path opens (docs/open-when.md), in epoch ms. `openWhen: start` (or no delay): the
 * start. `capacityReady`:
 * - an opening reached stays (an opened sale never closes again);
 * - before start − scaling.leadTime, the start: nothing opens before it anyway, and readiness is judged
 *   only on the floor's pods, so shoppers see the announced start until then;
 * - from then on the start (or now, after it) while CapacityReady is True, else start + maxOpenDelay, so a
 *   stopped operator leaves a sale that opens at that bound at the latest. Until the start it follows
 *   CapacityReady (a floor that loses its pods before the start holds the opening again).
 * `ready` must be this pass's CapacityReady: a True from before start − scaling.leadTime (placeholders
 * Running) does not say the floor's pods are Ready.
 */
export function opensAt(
  spec: ActivitySpec,
  b: Pick<Boundaries, 'start' | 'scaleAt'>,
  ready: Condition | undefined,
  prev: number | undefined,
  now: number,
): number {
  const delay = parseDuration(spec.maxOpenDelay) ?? 0;
  if (spec.openWhen !== 'capacityReady' || delay <= 0) return b.start;
  const held = b.start + delay;
  if (isOpeningOf(spec, b, prev) && now >= prev) return prev;
  if (now < b.scaleAt) return b.start;
  if (ready?.status === 'True') return Math.min(held, Math.max(b.start, now));
  return held;
}

/**
 * Whether `prev` is an opening this spec could have given, in [start, start + maxOpenDelay]: one from
 * before the window moved is not.
 */
export function isOpeningOf(
  spec: ActivitySpec,
  b: Pick<Boundaries, 'start'>,
  prev: number | undefined,
): prev is number {
  const held = b.start + (parseDuration(spec.maxOpenDelay) ?? 0);
  return prev !== undefined && prev >= b.start && prev <= held;
}

/** The status's opensAt as epoch ms; undefined when absent or unreadable. */
export function prevOpensAt(status: { opensAt?: string } | undefined): number | undefined {
  const ms = status?.opensAt === undefined ? NaN : Date.parse(status.opensAt);
  return Number.isNaN(ms) ? undefined : ms;
}

export interface OpeningEvent {
  type: 'Warning' | 'Normal';
  reason: 'OpeningHeld' | 'OpenedLate';
  message: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const why = (ready: Condition | undefined) =>
  ready ? `CapacityReady ${ready.status} (${ready.reason}): ${ready.message}` : 'CapacityReady not known';

/**
 * The Event a pass has to tell about the opening, if any. OpeningHeld while the start has passed and the
 * sale is not open (the caller sends it once); OpenedLate on the pass a held sale turns open (from a phase
 * before Live to Live or SoldOut), saying whether capacity turned ready or the delay ran out.
 */
export function openingEvent(
  spec: ActivitySpec,
  b: Pick<Boundaries, 'start' | 'opensAt'>,
  ready: Condition | undefined,
  phases: { from: Phase | undefined; to: Phase },
  now: number,
): OpeningEvent | null {
  if (b.opensAt <= b.start) return null;
  if (now >= b.start && now < b.opensAt) {
    const message = `the opening is held until capacity is ready, at the latest ${iso(b.opensAt)} (start ${spec.window.start} + maxOpenDelay ${spec.maxOpenDelay}); ${why(ready)}`;
    return { type: 'Warning', reason: 'OpeningHeld', message };
  }
  const closed = (p: Phase | undefined) =>
    p === undefined || ['Scheduled', 'Preheating', 'Ready'].includes(p);
  const open = phases.to === 'Live' || phases.to === 'SoldOut';
  if (!closed(phases.from) || !open) return null;
  const late = `${(b.opensAt - b.start) / 1000}s after the start`;
  const held = b.start + (parseDuration(spec.maxOpenDelay) ?? 0);
  const message =
    b.opensAt >= held
      ? `opened at ${iso(b.opensAt)}, ${late}: the delay ran out (maxOpenDelay ${spec.maxOpenDelay}) before capacity was ready; ${why(ready)}`
      : `opened at ${iso(b.opensAt)}, ${late}: capacity turned ready`;
  return { type: 'Normal', reason: 'OpenedLate', message };
}
