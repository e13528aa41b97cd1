import { activitySpecSchema } from '../../services/core/activity/spec.js';
import {
  boundaries,
  computeStatus,
  failedStatus,
  nextTransition,
  phaseOf,
  requeueAfter,
  sameStatus,
  type Observed,
} from './status.js';

const spec = activitySpecSchema.parse({
  product: { sku: 'S', name: 'N', price: '1.00' },
  stock: 10,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
  preheat: { leadTime: '10m' },
  scaling: { leadTime: '5m', cooldown: '10m' },
});
const T = (iso: string) => Date.parse(iso);
const obs = (now: number, over: Partial<Observed> = {}): Observed => ({
  now,
  generation: 3,
  preheat: { ok: true },
  scaling: { ok: true, raised: false },
  stock: { total: 10, remaining: 4, sold: 6, paid: 2 },
  room: null,
  error: null,
  ...over,
});

describe('status (pure)', () => {
  const b = boundaries(spec);

  it('derives every boundary from the spec', () => {
    expect(b).toEqual({
      capacityAt: T('2026-11-10T23:45:00Z'),
      preheatAt: T('2026-11-10T23:50:00Z'),
      scaleAt: T('2026-11-10T23:55:00Z'),
      start: T('2026-11-11T00:00:00Z'),
      opensAt: T('2026-11-11T00:00:00Z'), // openWhen start (operator/reconcile/opening.test.ts)
      end: T('2026-11-11T00:30:00Z'),
      scaleDownAt: T('2026-11-11T00:40:00Z'),
    });
    expect(nextTransition(b, T('2026-11-10T23:52:00Z'))).toBe(b.scaleAt);
    expect(nextTransition(b, T('2026-11-10T23:00:00Z'))).toBe(b.capacityAt);
    expect(nextTransition(b, T('2026-11-11T00:45:00Z'))).toBeNull();
  });

  it.each([
    ['2026-11-10T23:00:00Z', {}, 'Scheduled'],
    ['2026-11-10T23:51:00Z', { preheat: null }, 'Preheating'],
    ['2026-11-10T23:51:00Z', {}, 'Ready'],
    ['2026-11-11T00:10:00Z', {}, 'Live'],
    ['2026-11-11T00:10:00Z', { stock: { total: 10, remaining: 0, sold: 10, paid: 0 } }, 'SoldOut'],
    ['2026-11-11T00:30:00Z', {}, 'Ended'],
  ] as const)('at %s is %s', (at, over, phase) => {
    expect(phaseOf(b, obs(T(at), over as Partial<Observed>))).toBe(phase);
  });

  it('reports a floor cut to the maximum as ScaledUp=True/FloorClamped with what was cut', () => {
    const clamped = { ok: true, raised: true, clamped: 'cut to 5' } as const;
    const s = computeStatus(spec, obs(T('2026-11-11T00:10:00Z'), { scaling: clamped }));
    expect(s.conditions.find((c) => c.type === 'ScaledUp')).toMatchObject({
      status: 'True',
      reason: 'FloorClamped',
      message: 'cut to 5',
    });
  });

  it('keeps lastTransitionTime while a condition keeps its status, and stamps observedGeneration', () => {
    const first = computeStatus(spec, obs(T('2026-11-11T00:10:00Z')));
    const later = computeStatus(spec, obs(T('2026-11-11T00:11:00Z')), first.conditions);
    expect(later.conditions).toEqual(first.conditions);
    expect(later.conditions.every((c) => c.observedGeneration === 3)).toBe(true);
    const failing = computeStatus(spec, obs(T('2026-11-11T00:12:00Z'), { error: 'boom' }), later.conditions);
    const reconciled = failing.conditions.find((c) => c.type === 'Reconciled');
    expect(reconciled).toMatchObject({
      status: 'False',
      reason: 'Error',
      message: 'boom',
      lastTransitionTime: '2026-11-11T00:12:00.000Z',
    });
    expect(failing.stock).toEqual({ total: 10, remaining: 4, sold: 6, paid: 2, drift: 0 });
  });

  it('requeues at the next boundary, and often while the sale runs', () => {
    // The first boundary is start − capacityLead (placeholders), 15 minutes before the start by default.
    expect(requeueAfter(spec, T('2026-11-10T23:00:00Z'), 10_000)).toBe(45 * 60_000 + 50);
    expect(requeueAfter(spec, T('2026-11-10T23:46:00Z'), 10_000)).toBe(10_000);
    expect(requeueAfter(spec, T('2026-11-11T00:10:00Z'), 10_000)).toBe(10_000);
    expect(requeueAfter(spec, T('2026-11-12T00:00:00Z'), 10_000)).toBeNull();
  });

  it('omits nextTransitionTime after the last boundary', () => {
    expect(computeStatus(spec, obs(T('2026-11-11T00:35:00Z'))).nextTransitionTime).toBe(
      '2026-11-11T00:40:00.000Z',
    );
    expect(computeStatus(spec, obs(T('2026-11-11T00:41:00Z')))).not.toHaveProperty('nextTransitionTime');
  });

  it('compares statuses whatever the order of their keys (the API server sorts them)', () => {
    const s = computeStatus(spec, obs(T('2026-11-11T00:10:00Z')));
    const reverse = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reverse)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reverse(x)]),
            )
          : v;
    const reordered = reverse(s) as typeof s;
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(s));
    expect(sameStatus(reordered, s)).toBe(true);
    expect(sameStatus({ ...s, message: 'old' }, s)).toBe(false);
  });

  it('reports the waiting room as observed, and nothing of one for a sale without it', () => {
    const room = { waiting: 120, active: 40, admitted: 55 };
    const s = computeStatus(spec, obs(T('2026-11-11T00:10:00Z'), { room }));
    expect(s.waitingRoom).toEqual(room);
    expect(s.stock).toEqual({ total: 10, remaining: 4, sold: 6, paid: 2, drift: 0 });
    expect(computeStatus(spec, obs(T('2026-11-11T00:10:00Z')))).not.toHaveProperty('waitingRoom');
    // A count that moved is a status to write; the same counts are not.
    const moved = computeStatus(spec, obs(T('2026-11-11T00:10:00Z'), { room: { ...room, waiting: 119 } }));
    expect(sameStatus(s, moved)).toBe(false);
    expect(sameStatus(s, computeStatus(spec, obs(T('2026-11-11T00:10:00Z'), { room: { ...room } })))).toBe(
      true,
    );
  });

  it('fails with the reason as the Reconciled condition', () => {
    const f = failedStatus(4, 'NameConflict', 'taken', T('2026-11-11T00:10:00Z'));
    expect(f).toMatchObject({ phase: 'Failed', observedGeneration: 4, message: 'taken' });
    expect(f.conditions.find((c) => c.type === 'Reconciled')).toMatchObject({
      status: 'False',
      reason: 'NameConflict',
    });
  });
});
