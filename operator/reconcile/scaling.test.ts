import { activitySpecSchema, type ActivitySpec } from '../../services/core/activity/spec.js';
import { BEHAVIOR, baselineOf, desiredHpa, floorFor } from './scaling.js';

const sale = (
  start: string,
  end: string,
  minReplicas: number,
  maxReplicas: number,
  paused = false,
): ActivitySpec =>
  activitySpecSchema.parse({
    product: { sku: 'S', name: 'N', price: '1.00' },
    stock: 1,
    window: { start, end },
    scaling: { leadTime: '5m', cooldown: '10m', targets: [{ name: 'web', minReplicas, maxReplicas }] },
    paused,
  });
const T = (iso: string) => Date.parse(iso);
const base = { minReplicas: 2, maxReplicas: 6 };

describe('HPA floors (pure)', () => {
  const a = sale('2026-11-11T00:00:00Z', '2026-11-11T00:30:00Z', 10, 40);
  const b = sale('2026-11-11T00:20:00Z', '2026-11-11T01:00:00Z', 4, 50);

  it.each([
    ['2026-11-10T23:54:00Z', 2, 6, false],
    ['2026-11-10T23:55:00Z', 10, 40, true],
    ['2026-11-11T00:25:00Z', 10, 50, true],
    ['2026-11-11T00:40:00Z', 4, 50, true],
    ['2026-11-11T01:10:00Z', 2, 6, false],
  ])('at %s the floor is %i..%i', (at, min, max, raised) => {
    expect(floorFor('web', [a, b], base, T(at))).toEqual({
      floor: { minReplicas: min, maxReplicas: max },
      raised,
      clamped: false,
    });
  });

  it('bounds what activities ask by the cap, never the baseline', () => {
    const at = T('2026-11-11T00:25:00Z');
    expect(floorFor('web', [a, b], base, at, 30)).toEqual({
      floor: { minReplicas: 10, maxReplicas: 30 },
      raised: true,
      clamped: true,
    });
    expect(floorFor('web', [a, b], base, at, 8).floor).toEqual({ minReplicas: 8, maxReplicas: 8 });
    expect(floorFor('web', [a, b], { minReplicas: 12, maxReplicas: 60 }, at, 8).floor).toEqual({
      minReplicas: 12,
      maxReplicas: 60,
    });
    expect(floorFor('web', [a, b], base, at, 50).clamped).toBe(false);
  });

  it('ignores paused activities and other targets', () => {
    const paused = sale('2026-11-11T00:00:00Z', '2026-11-11T00:30:00Z', 20, 40, true);
    expect(floorFor('web', [paused], base, T('2026-11-11T00:10:00Z')).floor).toEqual(base);
    expect(floorFor('api', [a], base, T('2026-11-11T00:10:00Z')).raised).toBe(false);
  });

  it('reads the recorded baseline, else the current bounds', () => {
    expect(
      baselineOf(
        { 'stampede.dev/baseline-min-replicas': '3', 'stampede.dev/baseline-max-replicas': '7' },
        { minReplicas: 10, maxReplicas: 40 },
      ),
    ).toEqual({ minReplicas: 3, maxReplicas: 7 });
    expect(baselineOf({}, { minReplicas: 10, maxReplicas: 40 })).toEqual({
      minReplicas: 10,
      maxReplicas: 40,
    });
  });

  it('takes a bound someone else changed since the operator applied it as the new baseline', () => {
    const ann = (min: number, max: number, appliedMin: number, appliedMax: number) => ({
      'stampede.dev/baseline-min-replicas': String(min),
      'stampede.dev/baseline-max-replicas': String(max),
      'stampede.dev/applied-min-replicas': String(appliedMin),
      'stampede.dev/applied-max-replicas': String(appliedMax),
    });
    // The floor the operator set during a sale is not a baseline.
    expect(baselineOf(ann(2, 6, 10, 40), { minReplicas: 10, maxReplicas: 40 })).toEqual(base);
    // helm upgrade raised the chart's minReplicas while no sale held the floor.
    expect(baselineOf(ann(2, 6, 2, 6), { minReplicas: 3, maxReplicas: 6 })).toEqual({
      minReplicas: 3,
      maxReplicas: 6,
    });
    // ... or during a sale: the new bound is the baseline, the sale's floor is applied on top again.
    expect(baselineOf(ann(2, 6, 10, 40), { minReplicas: 3, maxReplicas: 40 })).toEqual({
      minReplicas: 3,
      maxReplicas: 6,
    });
  });

  it('builds the desired HPA as a plain object, with annotations only (labels stay Helm’s)', () => {
    expect(desiredHpa('shop', 'web', base, { minReplicas: 10, maxReplicas: 40 })).toEqual({
      name: 'web',
      namespace: 'shop',
      annotations: {
        'stampede.dev/managed-by': 'stampede-operator',
        'stampede.dev/baseline-min-replicas': '2',
        'stampede.dev/baseline-max-replicas': '6',
        'stampede.dev/applied-min-replicas': '10',
        'stampede.dev/applied-max-replicas': '40',
      },
      minReplicas: 10,
      maxReplicas: 40,
      behavior: BEHAVIOR,
    });
    expect(BEHAVIOR.scaleUp.stabilizationWindowSeconds).toBe(0);
    expect(BEHAVIOR.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
  });
});
