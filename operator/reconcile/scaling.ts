import type { ActivitySpec } from '../../services/core/activity/spec.js';
import { BASELINE_MAX, BASELINE_MIN, MANAGED_BY } from '../model.js';
import { boundaries } from './status.js';

export interface Floor {
  minReplicas: number;
  maxReplicas: number;
}

/**
 * The HPA bounds a target needs now: the baseline, raised to the max over every non-paused activity naming
 * the target whose [start − scaling.leadTime, end + cooldown] contains now.
 */
export function floorFor(
  target: string,
  activities: ActivitySpec[],
  baseline: Floor,
  now: number,
): { floor: Floor; raised: boolean } {
  let { minReplicas, maxReplicas } = baseline;
  let raised = false;
  for (const spec of activities) {
    if (spec.paused) continue;
    const b = boundaries(spec);
    if (now < b.scaleAt || now >= b.scaleDownAt) continue;
    for (const t of spec.scaling.targets) {
      if (t.name !== target) continue;
      raised = true;
      minReplicas = Math.max(minReplicas, t.minReplicas);
      maxReplicas = Math.max(maxReplicas, t.maxReplicas);
    }
  }
  return { floor: { minReplicas, maxReplicas: Math.max(maxReplicas, minReplicas) }, raised };
}

/** The baseline of an existing HPA: recorded in its annotations when adopted, else its current bounds. */
export function baselineOf(annotations: Record<string, string>, current: Floor): Floor {
  const min = Number(annotations[BASELINE_MIN]);
  const max = Number(annotations[BASELINE_MAX]);
  return Number.isInteger(min) && Number.isInteger(max) && min > 0 && max > 0
    ? { minReplicas: min, maxReplicas: max }
    : current;
}

export interface DesiredHpa {
  name: string;
  namespace: string;
  labels: Record<string, string>;
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

/** The HPA the operator wants for a target: named like the target, baseline recorded, floor applied. */
export function desiredHpa(
  namespace: string,
  target: string,
  baseline: Floor,
  floor: Floor,
  labels: Record<string, string> = {},
): DesiredHpa {
  return {
    name: target,
    namespace,
    labels: { ...labels, ...MANAGED_BY },
    annotations: {
      [BASELINE_MIN]: String(baseline.minReplicas),
      [BASELINE_MAX]: String(baseline.maxReplicas),
    },
    minReplicas: floor.minReplicas,
    maxReplicas: floor.maxReplicas,
    behavior: BEHAVIOR,
  };
}
