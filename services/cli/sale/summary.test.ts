import { parseSaleOptions } from './options.js';
import { series } from './report.js';
import { formatSummary, percentile, summarize } from './summary.js';

const run = {
  seconds: 1,
  stock: [
    { t: 100, remaining: 1 },
    { t: 600, remaining: 0 },
  ],
  samples: [
    { t: 10, ms: 3, outcome: 'accepted', orderId: 'a', user: 0 },
    { t: 20, ms: 40, outcome: 'accepted', orderId: 'b', user: 1 },
    { t: 700, ms: 2, outcome: 'sold_out', user: 2 },
  ],
};
const settled = {
  drainSeconds: 0.2,
  paid: 1,
  payRefused: 0,
  byStatus: { paid: 1, closed: 1 },
  rows: 2,
  remaining: 1,
  invariants: { oversold: 0, duplicate: 0, lost: 0, unreturned: 0 },
};

describe('sale summary (pure)', () => {
  it('takes percentiles by rank', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 99)).toBe(0);
  });

  it('counts outcomes, builds the histogram and fails on any broken invariant', () => {
    const o = parseSaleOptions(['--stock', '2']);
    const s = summarize('x', o, run, settled);
    expect(s).toMatchObject({
      requests: 3,
      accepted: 2,
      outcomes: { accepted: 2, sold_out: 1 },
      paid: 1,
      closed: 1,
      ok: true,
    });
    expect(s.histogram.reduce((n, h) => n + h.count, 0)).toBe(3);
    expect(formatSummary(s)).toMatch(/oversold 0 ✓ {3}duplicate 0 ✓ {3}lost 0 ✓/);
    expect(s.waitingRoom).toBeNull();
    const broken = summarize('x', o, run, { ...settled, invariants: { ...settled.invariants, lost: 1 } });
    expect(broken.ok).toBe(false);
    expect(formatSummary(broken)).toMatch(/lost 1 ✗/);
    const unreturned = { ...settled.invariants, unreturned: 2, unadmitted: 0 };
    const r = summarize('x', o, run, { ...settled, invariants: unreturned });
    expect(r.ok).toBe(false);
    expect(formatSummary(r)).toMatch(/unreturned 2 ✗ {3}unadmitted 0 ✓/);
  });

  it('buckets the series for the report', () => {
    const s = series(run);
    expect(s.rate.accepted).toEqual([8, 0, 0, 0]);
    expect(s.rate.sold_out).toEqual([0, 0, 4, 0]);
    expect(s.stock).toEqual([
      [100, 1],
      [600, 0],
    ]);
  });

  it('parses options with defaults and refuses nonsense', () => {
    expect(parseSaleOptions([])).toMatchObject({
      stock: 100,
      users: 1000,
      requestsPerUser: 3,
      concurrency: 64,
      payShare: 0.5,
      json: false,
      report: null,
    });
    expect(() => parseSaleOptions(['--pay-share', '2'])).toThrow(/pay-share/);
    expect(() => parseSaleOptions(['--users', '0'])).toThrow(/users/);
    expect(() => parseSaleOptions(['--colour'])).toThrow();
  });

  it('parses the waiting room options, refusing room flags without --waiting-room', () => {
    expect(parseSaleOptions([]).waitingRoom).toBeNull();
    expect(parseSaleOptions(['--waiting-room']).waitingRoom).toEqual({
      startsInSeconds: 5,
      arrivalSeconds: 7,
      admitPerSecond: 20,
      maxActive: 50,
      admissionTtlSeconds: 10,
      noShowShare: 0.1,
    });
    expect(
      parseSaleOptions(['--waiting-room', '--starts-in', '8', '--arrival', '2']).waitingRoom,
    ).toMatchObject({ startsInSeconds: 8, arrivalSeconds: 2 });
    expect(() => parseSaleOptions(['--starts-in', '3'])).toThrow(/needs --waiting-room/);
    expect(() => parseSaleOptions(['--waiting-room', '--purchase-token', 'pow'])).toThrow(/admission/);
    expect(() => parseSaleOptions(['--waiting-room', '--no-show-share', '1.5'])).toThrow(/no-show-share/);
  });
});
