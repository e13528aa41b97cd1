import { activitySpecSchema } from '../../services/core/activity/spec.js';
import type { Condition } from '../model.js';
import { openingEvent, opensAt, prevOpensAt } from './opening.js';
import { boundaries, computeStatus, nextTransition, requeueAfter, type Observed } from './status.js';

const T = (iso: string) => Date.parse(iso);
const START = T('2026-11-11T00:00:00Z');
const HELD = T('2026-11-11T00:05:00Z'); // start + the default maxOpenDelay
const spec = (over: Record<string, unknown> = {}) =>
  activitySpecSchema.parse({
    product: { sku: 'S', name: 'N', price: '1.00' },
    stock: 10,
    window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
    scaling: { leadTime: '5m' },
    openWhen: 'capacityReady',
    ...over,
  });
const held = spec();
const b = boundaries(held); // scaleAt 23:55
const ready = (status: 'True' | 'False', reason = status === 'True' ? 'Ready' : 'FloorPodsNotReady') =>
  ({
    type: 'CapacityReady',
    status,
    reason,
    message: status === 'True' ? '7 of 7 floor pods Ready; preheated' : '0 of 7 floor pods Ready',
    lastTransitionTime: '2026-11-10T23:50:00Z',
    observedGeneration: 1,
  }) satisfies Condition;

describe('opensAt (pure)', () => {
  it('is the start for openWhen start, and for a capacityReady sale without delay', () => {
    const at = T('2026-11-11T00:01:00Z');
    expect(opensAt(spec({ openWhen: 'start' }), b, ready('False'), undefined, at)).toBe(START);
    expect(opensAt(spec({ maxOpenDelay: '0s' }), b, ready('False'), undefined, at)).toBe(START);
  });

  it('shows the announced start before start − scaling.leadTime, whatever the capacity', () => {
    expect(opensAt(held, b, undefined, undefined, T('2026-11-10T23:00:00Z'))).toBe(START);
    expect(opensAt(held, b, ready('False'), START, T('2026-11-10T23:54:59Z'))).toBe(START);
    // A True of the placeholder stage decides nothing either.
    expect(opensAt(held, b, ready('True'), undefined, T('2026-11-10T23:54:59Z'))).toBe(START);
  });

  it('holds at start + maxOpenDelay from the floor stage until capacity is ready', () => {
    expect(opensAt(held, b, undefined, START, T('2026-11-10T23:55:00Z'))).toBe(HELD);
    expect(opensAt(held, b, ready('False'), HELD, T('2026-11-11T00:02:00Z'))).toBe(HELD);
    expect(
      opensAt(
        spec({ maxOpenDelay: '1h', window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T02:00:00Z' } }),
        b,
        ready('False'),
        undefined,
        START,
      ),
    ).toBe(T('2026-11-11T01:00:00Z'));
  });

  it('opens at the start when the floor is ready before it, and at once when ready after it', () => {
    expect(opensAt(held, b, ready('True'), HELD, T('2026-11-10T23:56:00Z'))).toBe(START);
    const late = T('2026-11-11T00:02:30Z');
    expect(opensAt(held, b, ready('True'), HELD, late)).toBe(late);
    // Ready only once the bound passed (the operator was down): it opened at the bound.
    expect(opensAt(held, b, ready('True'), undefined, T('2026-11-11T00:09:00Z'))).toBe(HELD);
  });

  it('follows CapacityReady until the start; an opening reached stays', () => {
    expect(opensAt(held, b, ready('False'), START, T('2026-11-10T23:58:00Z'))).toBe(HELD);
    expect(opensAt(held, b, ready('False'), START, START)).toBe(START);
    const opened = T('2026-11-11T00:02:30Z');
    expect(opensAt(held, b, ready('False'), opened, T('2026-11-11T00:03:00Z'))).toBe(opened);
    // The bound reached is an opening too.
    expect(opensAt(held, b, ready('True'), HELD, T('2026-11-11T00:05:01Z'))).toBe(HELD);
  });

  it('takes no decision from before the window moved', () => {
    const moved = spec({ window: { start: '2026-11-11T00:10:00Z', end: '2026-11-11T00:30:00Z' } });
    const mb = boundaries(moved);
    // The old start has passed, but it is no opening of this window: held, in the moved floor stage.
    expect(opensAt(moved, mb, ready('False'), START, T('2026-11-11T00:06:00Z'))).toBe(
      T('2026-11-11T00:15:00Z'),
    );
  });

  it('reads the status’s opensAt back, ignoring what is absent or unreadable', () => {
    expect(prevOpensAt({ opensAt: '2026-11-11T00:05:00Z' })).toBe(HELD);
    expect(prevOpensAt({})).toBeUndefined();
    expect(prevOpensAt(undefined)).toBeUndefined();
    expect(prevOpensAt({ opensAt: 'soon' })).toBeUndefined();
  });
});

const obs = (now: number, opening: number | undefined): Observed => ({
  now,
  generation: 1,
  preheat: { ok: true },
  scaling: { ok: true, raised: true },
  stock: { total: 10, remaining: 10, sold: 0, paid: 0 },
  room: null,
  error: null,
  ...(opening === undefined ? {} : { opensAt: opening }),
});

describe('the status of a held opening', () => {
  it('says opensAt, stays Ready past the start until it, and is Live from it', () => {
    const during = computeStatus(held, obs(T('2026-11-11T00:01:00Z'), HELD));
    expect(during).toMatchObject({ phase: 'Ready', opensAt: '2026-11-11T00:05:00.000Z' });
    expect(during.nextTransitionTime).toBe('2026-11-11T00:05:00.000Z');
    expect(computeStatus(held, obs(HELD, HELD)).phase).toBe('Live');
    expect(computeStatus(held, obs(T('2026-11-11T00:01:00Z'), undefined)).opensAt).toBeUndefined();
  });

  it('looks again at the opening', () => {
    const hb = boundaries(held, HELD);
    expect(nextTransition(hb, T('2026-11-11T00:01:00Z'))).toBe(HELD);
    // Without the live refresh in the way: the next boundary is the opening, 50 ms after it.
    expect(requeueAfter(held, T('2026-11-11T00:01:00Z'), 3_600_000, HELD)).toBe(240_050);
  });
});

describe('openingEvent (pure)', () => {
  const hb = boundaries(held, HELD);
  const phases = { from: 'Ready', to: 'Ready' } as const;

  it('warns while the start has passed and the sale is held, saying until when and why', () => {
    const e = openingEvent(held, hb, ready('False'), phases, T('2026-11-11T00:00:01Z'));
    expect(e).toMatchObject({ type: 'Warning', reason: 'OpeningHeld' });
    expect(e?.message).toContain('at the latest 2026-11-11T00:05:00.000Z');
    expect(e?.message).toContain('FloorPodsNotReady');
    expect(openingEvent(held, hb, ready('False'), phases, T('2026-11-10T23:59:00Z'))).toBeNull();
  });

  it('tells a late opening once, when the phase turns open: the delay ran out, or capacity turned ready', () => {
    const opening = { from: 'Ready', to: 'Live' } as const;
    const ranOut = openingEvent(held, hb, ready('False'), opening, HELD + 10);
    expect(ranOut).toMatchObject({ type: 'Normal', reason: 'OpenedLate' });
    expect(ranOut?.message).toMatch(/300s after the start: the delay ran out/);
    const at = T('2026-11-11T00:02:00Z');
    const turned = openingEvent(held, boundaries(held, at), ready('True'), opening, at);
    expect(turned?.message).toMatch(/120s after the start: capacity turned ready/);
    expect(openingEvent(held, hb, ready('False'), { from: 'Live', to: 'Live' }, HELD + 10)).toBeNull();
  });

  it('says nothing of a sale that opens at its start', () => {
    const sb = boundaries(held, START);
    expect(openingEvent(held, sb, ready('True'), { from: 'Ready', to: 'Live' }, START)).toBeNull();
  });
});
