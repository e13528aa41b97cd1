// What the bench asks of each seckill worker to explain the sale's tail (SECKILL_DIAGNOSTICS=1, off by
// default): the event loop's delay and the GC pauses since the previous /metrics scrape, per process.
// Exported as gauges labelled with the worker's pid, so the cluster primary's aggregated /metrics keeps one
// series per worker. A scrape reads the window and starts the next one (as prom-client's own event-loop lag
// does): the bench scrapes once before the load to start it and once after to read it. When off, nothing
// here is created: no timer, no observer, no series.
import {
  constants,
  monitorEventLoopDelay,
  PerformanceObserver,
  type PerformanceEntry,
} from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** The event-loop probe fires every millisecond; a sample is how late it fired. */
const RESOLUTION_MS = 1;

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export interface GcFigures {
  maxMs: number;
  totalMs: number;
  /** Pauses by kind (minor = scavenge, major = mark-sweep-compact, incremental marking, weak callbacks). */
  counts: Record<string, number>;
}

/** GC pauses seen since the last take(); pure, so its arithmetic is tested without a collector. */
export class GcWindow {
  private w: GcFigures = GcWindow.empty();

  private static empty(): GcFigures {
    return { maxMs: 0, totalMs: 0, counts: Object.fromEntries(Object.values(KINDS).map((k) => [k, 0])) };
  }

  add(kind: number, ms: number): void {
    const name = KINDS[kind] ?? 'other';
    this.w.maxMs = Math.max(this.w.maxMs, ms);
    this.w.totalMs += ms;
    this.w.counts[name] = (this.w.counts[name] ?? 0) + 1;
  }

  take(): GcFigures {
    const out = this.w;
    this.w = GcWindow.empty();
    return out;
  }
}

const gcKind = (e: PerformanceEntry): number =>
  (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;

/** Starts the probes and registers their gauges; returns what stops them (tests, shutdown). */
export function startDiagnostics(registry: Registry, pid = process.pid): () => void {
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
  const gc = new GcWindow();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.add(gcKind(e), e.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  const worker = String(pid);
  // A sample is the interval between two firings: the delay is what exceeds the resolution.
  const late = (ns: number) => Math.max(0, ns / 1e9 - RESOLUTION_MS / 1000);
  new Gauge({
    name: 'stampede_diagnostics_event_loop_delay_seconds',
    help: 'Event-loop delay since the previous scrape (SECKILL_DIAGNOSTICS): p50, p99, max per worker.',
    labelNames: ['pid', 'stat'],
    registers: [registry],
    collect() {
      const seen = loop.count > 0;
      for (const [stat, v] of [
        ['p50', seen ? loop.percentile(50) : 0],
        ['p99', seen ? loop.percentile(99) : 0],
        ['max', seen ? loop.max : 0],
      ] as const)
        this.set({ pid: worker, stat }, late(v));
      loop.reset();
    },
  });
  // The counts have no collect of their own: the pause gauge, registered (so collected) first, sets them
  // from the same window.
  const pauses = new Gauge({
    name: 'stampede_diagnostics_gc_pauses',
    help: 'GC pauses since the previous scrape (SECKILL_DIAGNOSTICS), by kind, per worker.',
    labelNames: ['pid', 'kind'],
    registers: [],
  });
  new Gauge({
    name: 'stampede_diagnostics_gc_pause_seconds',
    help: 'GC pauses since the previous scrape (SECKILL_DIAGNOSTICS): the longest and their sum, per worker.',
    labelNames: ['pid', 'stat'],
    registers: [registry],
    collect() {
      const g = gc.take();
      this.set({ pid: worker, stat: 'max' }, g.maxMs / 1000);
      this.set({ pid: worker, stat: 'sum' }, g.totalMs / 1000);
      for (const [kind, n] of Object.entries(g.counts)) pauses.set({ pid: worker, kind }, n);
    },
  });
  registry.registerMetric(pauses);
  return () => {
    loop.disable();
    observer.disconnect();
  };
}
