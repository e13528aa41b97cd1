import { constants } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { waitFor } from '../../test/helpers/env.js';
import { ConfigError } from '../core/config.js';
import { loadSeckillConfig } from './config.js';
import { GcWindow, startDiagnostics } from './diagnostics.js';

/** The value of one series of the registry's text, by name and one label's value. */
async function valueOf(registry: Registry, name: string, label: string): Promise<number> {
  const line = (await registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('seckill diagnostics', () => {
  it('is off unless SECKILL_DIAGNOSTICS=1, and refuses anything but 0 or 1', () => {
    expect(loadSeckillConfig({}).diagnostics).toBe(false);
    expect(loadSeckillConfig({ SECKILL_DIAGNOSTICS: '0' }).diagnostics).toBe(false);
    expect(loadSeckillConfig({ SECKILL_DIAGNOSTICS: '1' }).diagnostics).toBe(true);
    expect(() => loadSeckillConfig({ SECKILL_DIAGNOSTICS: 'yes' })).toThrow(ConfigError);
  });

  it('keeps the longest pause, the sum and the count by kind of one window, then starts an empty one', () => {
    const w = new GcWindow();
    w.add(constants.NODE_PERFORMANCE_GC_MINOR, 2);
    w.add(constants.NODE_PERFORMANCE_GC_MAJOR, 7);
    w.add(constants.NODE_PERFORMANCE_GC_MINOR, 1);
    const first = w.take();
    expect(first).toMatchObject({ maxMs: 7, totalMs: 10 });
    expect(first.counts).toMatchObject({ minor: 2, major: 1, incremental: 0 });
    expect(w.take()).toMatchObject({ maxMs: 0, totalMs: 0, counts: { minor: 0, major: 0 } });
  });

  describe('in a process', () => {
    const registry = new Registry();
    const stop = startDiagnostics(registry, 4242);
    afterAll(() => stop());

    it('sees a blocked event loop in the window of the next scrape', async () => {
      await registry.metrics();
      // A reset forgets the last firing, so the probe fires once more before the block it is to time.
      await new Promise((r) => setTimeout(r, 10));
      const until = performance.now() + 50;
      while (performance.now() < until) {
        // Blocks the loop: the 1-ms probe cannot fire for 50 ms.
      }
      await new Promise((r) => setTimeout(r, 5));
      const max = await valueOf(registry, 'stampede_diagnostics_event_loop_delay_seconds', 'stat="max"');
      expect(max).toBeGreaterThanOrEqual(0.045);
    });

    it('counts the scavenges an allocation causes, labelled with the pid', async () => {
      let keep: unknown[] = [];
      await waitFor(async () => {
        keep = Array.from({ length: 200_000 }, (_, i) => ({ i }));
        return (await valueOf(registry, 'stampede_diagnostics_gc_pauses', 'kind="minor"')) > 0;
      }, 'a scavenge to be counted');
      expect(keep.length).toBe(200_000);
      const text = await registry.metrics();
      expect(text).toContain('stampede_diagnostics_gc_pause_seconds{pid="4242",stat="max"}');
    });
  });
});
