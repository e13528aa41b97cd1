import type { Logger } from '../services/core/log.js';

/**
 * The longest a timer sleeps. Node fires a timer whose delay exceeds 2^31−1 ms (about 24.8 days) at once,
 * so a sale announced a month ahead would be reconciled in a tight loop; a capped timer wakes up, the
 * reconcile recomputes the delay and the key sleeps again.
 */
export const MAX_DELAY_MS = 3_600_000;

/**
 * A per-key work queue: one reconcile per key at a time (a key added while it runs runs once more after),
 * the earliest requested time wins, and failures back off exponentially per key (200 ms doubling to 60 s).
 */
export class WorkQueue {
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly work: (key: string) => Promise<number | null>,
    private readonly log: Logger,
  ) {}

  add(key: string, requestedMs = 0): void {
    if (this.stopped) return;
    const delayMs = Math.min(Math.max(0, requestedMs), MAX_DELAY_MS);
    const at = Date.now() + delayMs;
    const t = this.timers.get(key);
    if (t && t.at <= at) return;
    if (t) clearTimeout(t.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      void this.run(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  private async run(key: string): Promise<void> {
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.running.add(key);
    try {
      const again = await this.work(key);
      this.failures.delete(key);
      if (again !== null) this.add(key, again);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(60_000, 200 * 2 ** (n - 1));
      this.log.warn(
        { key, err: String((err as Error)?.message ?? err), retryInMs: delay },
        'reconcile failed',
      );
      this.add(key, delay);
    } finally {
      this.running.delete(key);
      if (this.dirty.delete(key)) this.add(key, 0);
    }
  }

  get idle(): boolean {
    return this.running.size === 0;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }
}
