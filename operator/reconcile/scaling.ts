import type { ActivitySpec } from '../../services/core/activity/spec.js';
import { APPLIED_MAX, APPLIED_MIN, BASELINE_MAX, BASELINE_MIN, MANAGED_BY, OPERATOR } from '../model.js';
import { boundaries } from './status.js';

export interface Floor {
  minReplicas: number;
  maxReplicas: number;
}

/**
 * The HPA bounds a target needs now: the baseline, raised to the max over every non-paused activity naming
 * the target whose [start − scaling.leadTime, end + cooldown] contains now. What an activity asks is
 * bounded by `cap` (OPERATOR_MAX_REPLICAS): whoever may write a SeckillActivity must not get the operator
 * to scale beyond what the installation allows; `clamped` says a request was cut.
 */
export function floorFor(
  target: string,
  activities: ActivitySpec[],
  baseline: Floor,
  now: number,
  cap = Infinity,
): { floor: Floor; raised: boolean; clamped: boolean } {
  let { minReplicas, maxReplicas } = baseline;
  let raised = false;
  let clamped = false;
  for (const spec of activities) {
    if (spec.paused) continue;
    const b = boundaries(spec);
    if (now < b.scaleAt || now >= b.scaleDownAt) continue;
    for (const t of spec.scaling.targets) {
      if (t.name !== target) continue;
      raised = true;
      clamped ||= t.maxReplicas > cap;
      minReplicas = Math.max(minReplicas, Math.min(t.minReplicas, cap));
      maxReplicas = Math.max(maxReplicas, Math.min(t.maxReplicas, cap));
    }
  }
  return { floor: { minReplicas, maxReplicas: Math.max(maxReplicas, minReplicas) }, raised, clamped };
}

const bound = (v: string | undefined): number | null => {
  const n = Number(v);
  return v !== undefined && Number.isInteger(n) && n > 0 ? n : null;
};

/**
 * The baseline of an existing HPA. A bound that still holds what the operator last applied keeps the
 * recorded baseline; a bound someone else changed since (a `helm upgrade`, `kubectl edit`) is the new
 * baseline. An HPA never touched by the operator: its current bounds.
 */
export function baselineOf(annotations: Record<string, string>, current: Floor): Floor {
  const pick = (now: number, recorded: string | undefined, applied: string | undefined): number => {
    const r = bound(recorded);
    const a = bound(applied);
    if (r === null) return now;
    // Without an applied record (set by an operator before this one) the recorded baseline stands.
    return a === null || a === now ? r : now;
  };
  return {
    minReplicas: pick(current.minReplicas, annotations[BASELINE_MIN], annotations[APPLIED_MIN]),
    maxReplicas: pick(current.maxReplicas, annotations[BASELINE_MAX], annotations[APPLIED_MAX]),
  };
}

export interface DesiredHpa {
  name: string;
  namespace: string;
  annotations: Record<string, string>;
  minReplicas: number;
  maxReplicas: number;
  behavior: Behavior;
}

interface Behavior {
  scaleUp: {
    stabilizationWindowSeconds: number;
    selectPolicy: 'Max';
    policies: { type: 'Percent' | 'Pods'; value: number; periodSeconds: number }[];
  };
  scaleDown: {
    stabilizationWindowSeconds: number;
    selectPolicy: 'Min';
    policies: { type: 'Percent'; value: number; periodSeconds: number }[];
  };
}

/** Scale up at once (a flash crowd does not wait); scale down slowly (a second wave often follows). */
export const BEHAVIOR: Behavior = {
  scaleUp: {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
  },
  scaleDown: {
    stabilizationWindowSeconds: 300,
    selectPolicy: 'Min',
    policies: [{ type: 'Percent', value: 20, periodSeconds: 60 }],
  },
};

/** The HPA the operator wants for a target: named like the target, baseline and applied floor recorded. */
export function desiredHpa(namespace: string, target: string, baseline: Floor, floor: Floor): DesiredHpa {
  return {
    name: target,
    namespace,
    annotations: {
      [MANAGED_BY]: OPERATOR,
      [BASELINE_MIN]: String(baseline.minReplicas),
      [BASELINE_MAX]: String(baseline.maxReplicas),
      [APPLIED_MIN]: String(floor.minReplicas),
      [APPLIED_MAX]: String(floor.maxReplicas),
    },
    minReplicas: floor.minReplicas,
    maxReplicas: floor.maxReplicas,
    behavior: BEHAVIOR,
  };
}

/** Whether an HPA already is what the operator wants (then nothing is written). */
export function hpaUpToDate(
  have: { minReplicas: number; maxReplicas: number; annotations: Record<string, string> },
  want: DesiredHpa,
): boolean {
  return (
    have.minReplicas === want.minReplicas &&
    have.maxReplicas === want.maxReplicas &&
    Object.entries(want.annotations).every(([k, v]) => have.annotations[k] === v)
  );
}
