import type { ActivitySpec } from '../../services/core/activity/spec.js';
import { parseDuration } from '../../services/core/activity/duration.js';
import type { ActivityStatus, Condition, ConditionType, Phase, RoomCounts } from '../model.js';
import { capacityReady } from './capacity-status.js';

export interface Boundaries {
  /** Placeholder pods from here to scaleAt (docs/capacity.md). */
  capacityAt: number;
  preheatAt: number;
  scaleAt: number;
  start: number;
  /** When the purchase path opens: start, or later for a held `openWhen: capacityReady` (docs/open-when.md). */
  opensAt: number;
  end: number;
  scaleDownAt: number;
}

export function boundaries(spec: ActivitySpec, opensAt?: number): Boundaries {
  const start = Date.parse(spec.window.start);
  const end = Date.parse(spec.window.end);
  return {
    capacityAt: start - (parseDuration(spec.scaling.capacityLead) ?? 0),
    preheatAt: start - (parseDuration(spec.preheat.leadTime) ?? 0),
    scaleAt: start - (parseDuration(spec.scaling.leadTime) ?? 0),
    start,
    opensAt: opensAt ?? start,
    end,
    scaleDownAt: end + (parseDuration(spec.scaling.cooldown) ?? 0),
  };
}

/** What reconcile saw this time; everything the pure status needs. */
export interface Observed {
  now: number;
  generation: number;
  /** null while it is not yet time to preheat. */
  preheat: { ok: true } | { ok: false; reason: string; message: string } | null;
  /** `clamped`: what was cut to OPERATOR_MAX_REPLICAS (the floors are raised, to less than asked). */
  scaling: { ok: true; raised: boolean; clamped?: string } | { ok: false; reason: string; message: string };
  stock: { total: number; remaining: number | null; sold: number; paid: number } | null;
  /** Read with the stock for a sale whose spec has an enabled room; null otherwise. */
  room: RoomCounts | null;
  /** Pods of the sale's targets, in [start − capacityLead, end); null (or absent) outside it. */
  capacity?: CapacityObserved | null;
  /** The opening registered (operator/reconcile/opening.ts); absent until the activity is registered. */
  opensAt?: number;
  error: string | null;
}

/**
 * Before start − scaling.leadTime: the placeholder pods wanted on the targets and those Running; from then
 * on: the floor's pods and those Ready.
 */
export interface CapacityObserved {
  stage: 'placeholders' | 'floor';
  wanted: number;
  ready: number;
}

export function phaseOf(b: Boundaries, o: Observed): Phase {
  if (o.now >= b.end) return 'Ended';
  // Between the start and a held opening the sale is not Live: it stays Ready (or Preheating).
  if (o.now >= b.opensAt) return o.stock?.remaining === 0 ? 'SoldOut' : 'Live';
  if (o.now >= b.preheatAt) return o.preheat?.ok ? 'Ready' : 'Preheating';
  return 'Scheduled';
}

/** The next boundary after now, when the phase or the HPA floor may change. */
export function nextTransition(b: Boundaries, now: number): number | null {
  const next = [b.capacityAt, b.preheatAt, b.scaleAt, b.start, b.opensAt, b.end, b.scaleDownAt]
    .filter((t) => t > now)
    .sort((x, y) => x - y);
  return next[0] ?? null;
}

export function condition(
  type: ConditionType,
  ok: boolean | null,
  reason: string,
  message: string,
  o: Pick<Observed, 'now' | 'generation'>,
  prev: Condition[],
): Condition {
  const status = ok === null ? 'Unknown' : ok ? 'True' : 'False';
  const before = prev.find((c) => c.type === type);
  // lastTransitionTime moves only when the status does, as in every Kubernetes condition.
  const lastTransitionTime =
    before && before.status === status ? before.lastTransitionTime : new Date(o.now).toISOString();
  return { type, status, reason, message, lastTransitionTime, observedGeneration: o.generation };
}

function scaledUp(o: Observed, prev: Condition[]): Condition {
  const s = o.scaling;
  if (!s.ok) return condition('ScaledUp', false, s.reason, s.message, o, prev);
  if (s.raised && s.clamped) return condition('ScaledUp', true, 'FloorClamped', s.clamped, o, prev);
  return s.raised
    ? condition('ScaledUp', true, 'FloorRaised', 'HPA floors raised for the sale', o, prev)
    : condition('ScaledUp', false, 'Baseline', 'HPA floors at their baseline', o, prev);
}

/** The whole status, as a pure function of spec, observation and the previous conditions. */
export function computeStatus(spec: ActivitySpec, o: Observed, prev: Condition[] = []): ActivityStatus {
  const b = boundaries(spec, o.opensAt);
  const phase = phaseOf(b, o);
  const pre = o.preheat;
  const conditions = [
    pre === null
      ? condition('Preheated', false, 'Waiting', `preheat at ${new Date(b.preheatAt).toISOString()}`, o, prev)
      : pre.ok
        ? condition(
            'Preheated',
            true,
            'Preheated',
            'stock and activity info are in Redis (verified by read-back)',
            o,
            prev,
          )
        : condition('Preheated', false, pre.reason, pre.message, o, prev),
    scaledUp(o, prev),
    o.error === null
      ? condition('Reconciled', true, 'Reconciled', 'spec reconciled', o, prev)
      : condition('Reconciled', false, 'Error', o.error, o, prev),
    capacityReady(b, o, prev),
    condition(
      'Ready',
      (phase === 'Ready' || phase === 'Live') && !spec.paused,
      spec.paused ? 'Paused' : phase,
      spec.paused ? 'the sale is paused' : `phase ${phase}`,
      o,
      prev,
    ),
  ];
  const next = nextTransition(b, o.now);
  const s = o.stock;
  return {
    phase,
    observedGeneration: o.generation,
    conditions,
    ...(s
      ? {
          stock: {
            total: s.total,
            remaining: s.remaining ?? s.total,
            sold: s.sold,
            paid: s.paid,
            drift: s.remaining === null ? 0 : s.total - s.remaining - s.sold,
          },
        }
      : {}),
    ...(o.room ? { waitingRoom: { ...o.room } } : {}),
    ...(o.opensAt !== undefined ? { opensAt: new Date(o.opensAt).toISOString() } : {}),
    ...(o.capacity ? { capacity: { wanted: o.capacity.wanted, ready: o.capacity.ready } } : {}),
    ...(next !== null ? { nextTransitionTime: new Date(next).toISOString() } : {}),
  };
}

/** When to look again: the next boundary, and every `liveRefreshMs` while the sale runs (stock in status). */
export function requeueAfter(
  spec: ActivitySpec,
  now: number,
  liveRefreshMs: number,
  opensAt?: number,
): number | null {
  const b = boundaries(spec, opensAt);
  const next = nextTransition(b, now);
  // From the placeholders on, status.capacity follows the pods as they are scheduled and become Ready.
  const live = now >= Math.min(b.capacityAt, b.preheatAt) && now < b.scaleDownAt;
  const candidates = [next === null ? Infinity : next - now + 50, live ? liveRefreshMs : Infinity];
  const delay = Math.min(...candidates);
  return Number.isFinite(delay) ? Math.max(100, delay) : null;
}

/**
 * The status of an activity reconcile refuses to act on (a spec that does not validate, a name another
 * namespace's resource owns): phase Failed, Reconciled=False with the reason, and the message.
 */
export function failedStatus(
  generation: number,
  reason: string,
  message: string,
  now: number,
  prev: Condition[] = [],
): ActivityStatus {
  const o = { now, generation };
  return {
    phase: 'Failed',
    observedGeneration: generation,
    conditions: [
      condition('Reconciled', false, reason, message, o, prev),
      condition('Ready', false, 'Failed', 'phase Failed', o, prev),
    ],
    message,
  };
}

/** JSON with object keys sorted at every level: the API server returns a status with its keys sorted. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => [k, canonical(x)]),
  );
}

/** Status equality for "write only when changed", whatever order the keys come in. */
export function sameStatus(a: ActivityStatus | undefined, b: ActivityStatus): boolean {
  return JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b));
}
