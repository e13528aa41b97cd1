import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PHASES, type Phase } from './model.js';

export interface OperatorMetrics {
  reconciles: Counter<'result'>;
  duration: Histogram;
  phase: Gauge<'activity' | 'phase'>;
  setPhase(activity: string, phase: Phase): void;
  /** start − when CapacityReady became True, in seconds; negative when late (docs/capacity.md). */
  capacityLead: Gauge<'activity'>;
  /** status.opensAt − start, in seconds: how long openWhen: capacityReady held the opening (docs/open-when.md). */
  openingDelay: Gauge<'activity'>;
  placeholderPods: Gauge<'target' | 'phase'>;
}

export function operatorMetrics(registry: Registry): OperatorMetrics {
  const r = [registry];
  const phase = new Gauge({
    name: 'stampede_activity_phase',
    help: 'The phase of each activity (1 for its current phase).',
    labelNames: ['activity', 'phase'],
    registers: r,
  });
  return {
    reconciles: new Counter({
      name: 'stampede_operator_reconcile_total',
      help: 'Reconciles by result (success, error, requeue).',
      labelNames: ['result'],
      registers: r,
    }),
    duration: new Histogram({
      name: 'stampede_operator_reconcile_duration_seconds',
      help: 'Time one reconcile took.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    phase,
    capacityLead: new Gauge({
      name: 'stampede_capacity_ready_lead_seconds',
      help: 'Seconds between CapacityReady turning True and the start (negative: late, or still not ready).',
      labelNames: ['activity'],
      registers: r,
    }),
    openingDelay: new Gauge({
      name: 'stampede_opening_delay_seconds',
      help: 'Seconds the opening is (or was) held after the start by openWhen: capacityReady; 0 when it opens at the start.',
      labelNames: ['activity'],
      registers: r,
    }),
    placeholderPods: new Gauge({
      name: 'stampede_placeholder_pods',
      help: 'Placeholder pods holding room for a target, by phase (Pending, Running).',
      labelNames: ['target', 'phase'],
      registers: r,
    }),
    setPhase(activity, current) {
      for (const p of PHASES) phase.set({ activity, phase: p }, p === current ? 1 : 0);
    },
  };
}
