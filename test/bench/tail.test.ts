// The bench's reading of the seckill's /metrics (bench/tail.ts): the p99 inside a histogram's buckets as
// Prometheus's histogram_quantile interpolates it, and each worker's diagnostics by pid.
import { quantileOf, workersOf } from '../../bench/tail.js';

describe('bench tail figures', () => {
  it('interpolates a quantile inside the bucket that holds it', () => {
    // 100 answers: 90 under 1 ms, 9 more under 10 ms, the last one under 50 ms.
    const h = new Map([
      [0.001, 90],
      [0.01, 99],
      [0.05, 100],
      [Infinity, 100],
    ]);
    expect(quantileOf(h, 0.5)).toBeCloseTo(0.001 * (50 / 90));
    expect(quantileOf(h, 0.99)).toBeCloseTo(0.01);
    expect(quantileOf(h, 0.995)).toBeCloseTo(0.01 + 0.04 * 0.5);
    expect(quantileOf(new Map([[Infinity, 0]]), 0.99)).toBe(0);
  });

  it('gives the highest finite bound when the quantile lies above every bucket', () => {
    expect(
      quantileOf(
        new Map([
          [0.001, 1],
          [Infinity, 10],
        ]),
        0.99,
      ),
    ).toBe(0.001);
  });

  it('reads each worker by pid, in order, and ignores every other series', () => {
    const text = [
      'stampede_diagnostics_event_loop_delay_seconds{pid="20",stat="p99",service="seckill"} 0.004',
      'stampede_diagnostics_event_loop_delay_seconds{pid="20",stat="max",service="seckill"} 0.02',
      'stampede_diagnostics_gc_pause_seconds{pid="20",stat="max",service="seckill"} 0.003',
      'stampede_diagnostics_gc_pause_seconds{pid="20",stat="sum",service="seckill"} 0.011',
      'stampede_diagnostics_gc_pauses{pid="20",kind="minor",service="seckill"} 7',
      'stampede_diagnostics_event_loop_delay_seconds{pid="3",stat="p99",service="seckill"} 0.001',
      'stampede_purchase_requests_total{activity="a",outcome="accepted",pid="9"} 5',
    ].join('\n');
    const w = workersOf(text);
    expect(w.map((x) => x.pid)).toEqual(['3', '20']);
    expect(w[1]).toMatchObject({
      loopP99Ms: 4,
      loopMaxMs: 20,
      gcMaxMs: 3,
      gcSumMs: 11,
      gcPauses: { minor: 7 },
    });
    expect(w[0]).toMatchObject({ loopP99Ms: 1, gcMaxMs: 0 });
  });
});
