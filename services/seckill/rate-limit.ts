/**
 * Fixed one-second windows, per process (DESIGN §3: requests per second per seckill process). A window is a
 * Map that is dropped whole when the second turns, so memory is bounded by one second's distinct keys and
 * the check is O(1) with no timers.
 */
export class RateLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when allowed, otherwise the seconds to wait (for `Retry-After`). */
  take(key: string): number {
    if (this.perSecond <= 0) return 0;
    const t = this.now();
    const w = Math.floor(t / 1000);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n > this.perSecond ? 1 : 0;
  }
}
