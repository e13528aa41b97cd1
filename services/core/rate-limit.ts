/**
 * Fixed windows (one second by default: DESIGN §3 counts requests per second per seckill process), per
 * process. A window is a Map dropped whole when the window turns, so memory is bounded by one window's
 * distinct keys and the check is O(1) with no timers.
 */
export class RateLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(
    private readonly perWindow: number,
    private readonly now: () => number = Date.now,
    private readonly windowMs = 1000,
  ) {}

  /** 0 when allowed, otherwise the whole seconds until the window turns (for `Retry-After`). */
  take(key: string): number {
    if (this.perWindow <= 0) return 0;
    const t = this.now();
    const w = Math.floor(t / this.windowMs);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n > this.perWindow ? Math.ceil(((w + 1) * this.windowMs - t) / 1000) : 0;
  }
}
