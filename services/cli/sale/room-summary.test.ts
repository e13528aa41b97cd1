import { stride } from './room.js';
import { Gate, nextPollMs, type Visit } from './room-shopper.js';
import { formatRoom, roomFigures } from './room-summary.js';

const visits: Visit[] = [
  { user: 0, ticket: 'a', end: 'accepted', admittedAt: 1000, acceptedAt: 1100, orderId: 'o1' },
  { user: 1, ticket: 'b', end: 'accepted', admittedAt: 1000, acceptedAt: 1400, orderId: 'o2' },
  { user: 2, ticket: 'c', end: 'accepted', admittedAt: 2000, acceptedAt: 2050, orderId: 'o3' },
  { user: 3, ticket: 'd', end: 'no_show', admittedAt: 2000 },
  { user: 4, ticket: 'e', end: 'room_sold_out' },
  { user: 5, end: 'join_ended' },
];
const answer = {
  preQueue: 3,
  admitted: 4,
  noShows: 1,
  waiting: 0,
  active: 0,
  commitment: 'c0ffee',
  seed: 'beef',
  preQueueTickets: ['a', 'b', 'd'],
};

describe('waiting room figures (pure)', () => {
  it('counts the visits and takes the shares from the draw', () => {
    const r = roomFigures(visits, answer);
    expect(r).toMatchObject({
      joined: 5,
      preQueue: 3,
      admitted: 4,
      noShows: 1,
      admissionsSeen: 4,
      noShowsChosen: 1,
      admissionTo202Ms: { p50: 100, p99: 400 },
      // o1 and o2 went to pre-queue tickets, o3 to a later joiner; 3 of the 5 placed joined early.
      preQueueUnitShare: 0.667,
      preQueueJoinerShare: 0.6,
      ends: { accepted: 3, no_show: 1, room_sold_out: 1, join_ended: 1 },
    });
    expect(formatRoom(r).join('\n')).toMatch(/units to pre-queue joiners 66\.7% \(they were 60\.0%/);
  });

  it('has no shares while the draw is unknown or nothing sold', () => {
    expect(roomFigures(visits, { ...answer, preQueueTickets: null }).preQueueUnitShare).toBeNull();
    expect(roomFigures([], answer)).toMatchObject({ joined: 0, preQueueUnitShare: null });
  });

  it('polls a pre-queue place at the start and a waiting one at half its ETA, within bounds', () => {
    const startsAt = new Date(100_000).toISOString();
    expect(nextPollMs({ state: 'pre-queue', startsAt }, 0)).toBe(10_000);
    const atStart = nextPollMs({ state: 'pre-queue', startsAt }, 97_000);
    expect(atStart).toBeGreaterThanOrEqual(3000);
    expect(atStart).toBeLessThan(4000);
    const head = nextPollMs({ state: 'waiting', startsAt, etaSeconds: 0 }, 200_000);
    expect(head).toBeGreaterThanOrEqual(250);
    expect(head).toBeLessThan(500);
    expect(nextPollMs({ state: 'waiting', startsAt, etaSeconds: 4 }, 0)).toBeGreaterThanOrEqual(2000);
    expect(nextPollMs({ state: 'waiting', startsAt, etaSeconds: 600 }, 0)).toBeLessThan(30_250);
    expect(nextPollMs({ state: 'waiting', startsAt, etaSeconds: 600 }, 0, 1000)).toBeLessThan(1250);
  });

  it('spreads a share exactly over a sequence', () => {
    const pick = stride(0.25);
    const picked = Array.from({ length: 8 }, pick);
    expect(picked).toEqual([false, false, false, true, false, false, false, true]);
    expect(Array.from({ length: 5 }, stride(0)).some(Boolean)).toBe(false);
    expect(Array.from({ length: 5 }, stride(1)).every(Boolean)).toBe(true);
  });

  it('lets an urgent request ahead of the others waiting', async () => {
    const gate = new Gate(1);
    const order: string[] = [];
    const task = (name: string, urgent = false) =>
      gate.run(async () => {
        order.push(name);
        await new Promise((r) => setTimeout(r, 2));
      }, urgent);
    await Promise.all([task('first'), task('poll1'), task('poll2'), task('buy', true)]);
    expect(order).toEqual(['first', 'buy', 'poll1', 'poll2']);
  });

  it('never lets more than its limit run at once', async () => {
    const gate = new Gate(3);
    let now = 0;
    let most = 0;
    const task = () =>
      gate.run(async () => {
        most = Math.max(most, ++now);
        await new Promise((r) => setTimeout(r, 5));
        now--;
      });
    await Promise.all(Array.from({ length: 20 }, task));
    expect(most).toBe(3);
    expect(now).toBe(0);
  });
});
