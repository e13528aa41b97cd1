import type { ActivityInfo } from '../../core/activity/spec.js';
import type { RoomSummary } from '../../core/redis/room-scripts.js';
import { placeIsFixed, queueStatus } from './status.js';

const START = Date.parse('2026-11-11T00:00:00Z');
const info: ActivityInfo = {
  name: 'sale',
  total: 100,
  startMs: START,
  endMs: START + 3_600_000,
  maxPerUser: 1,
  price: '1.00',
  paused: false,
  purchaseToken: { challenge: 'none', difficulty: 1 },
  waitingRoom: {
    opensBeforeMs: 600_000,
    admitPerSecond: 10,
    maxActive: 100,
    admissionTtlMs: 120_000,
    challenge: 'none',
    difficulty: 1,
  },
};
const summary = (over: Partial<RoomSummary> = {}): RoomSummary => ({
  openedAt: START,
  popped: 40,
  admitted: 40,
  noShows: 0,
  bought: 0,
  waiting: 60,
  active: 40,
  preQueue: 80,
  stock: 60,
  commit: 'c',
  seed: 's',
  now: START,
  ...over,
});
const place = { ticket: 't', userId: 'u', prequeue: true, position: 50 };

describe('queueStatus', () => {
  it('counts the people ahead from the head and the ETA from the measured rate', () => {
    expect(queueStatus(info, summary(), place, START + 1000, 2)).toMatchObject({
      state: 'waiting',
      position: 10,
      ahead: 9,
      etaSeconds: 5,
      opensAt: '2026-11-10T23:50:00.000Z',
    });
  });

  it('shows no position in the pre-queue before the draw', () => {
    const s = queueStatus(info, summary({ openedAt: null, popped: 0 }), place, START - 1000, 10);
    expect(s.state).toBe('pre-queue');
    expect(s.position).toBeUndefined();
  });

  it('tells admitted, expired and purchased apart by the shopper’s own facts', () => {
    const now = START + 5000;
    expect(queueStatus(info, summary(), { ...place, admitExpiry: now + 1 }, now, 1)).toMatchObject({
      state: 'admitted',
      admission: { expiresAt: new Date(now + 1).toISOString() },
    });
    expect(queueStatus(info, summary(), { ...place, admitExpiry: now }, now, 1).state).toBe('expired');
    expect(
      queueStatus(info, summary(), { ...place, admitExpiry: now, buyerEntry: 'o-1:1' }, now, 1),
    ).toMatchObject({ state: 'purchased', orderId: 'o-1' });
  });

  it('says sold out to everyone waiting once no unit is left, and ended after the window', () => {
    expect(queueStatus(info, summary({ stock: 0 }), place, START + 1, 1).state).toBe('sold_out');
    expect(queueStatus(info, summary(), place, info.endMs, 1).state).toBe('ended');
  });

  it('keeps a place in memory only once its position cannot move but by the head', () => {
    expect(placeIsFixed(summary({ openedAt: null }), place)).toBe(false);
    expect(placeIsFixed(summary(), place)).toBe(true);
    expect(placeIsFixed(summary({ openedAt: null }), { ...place, prequeue: false })).toBe(true);
    expect(placeIsFixed(summary(), { ...place, position: -1 })).toBe(false);
  });
});
