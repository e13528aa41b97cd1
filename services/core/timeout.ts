/** Rejects when `p` has not settled within `ms`; `p` itself keeps running (the caller decides what that means). */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface Deadline {
  at: number;
  settled: boolean;
  expire: () => void;
}

const NOTHING = (): void => undefined;

/**
 * withTimeout for many calls of one fixed length, on one timer: calls start in deadline order, so the
 * deadlines wait in a FIFO and the timer only ever looks at the oldest. For the purchase script, where a
 * timer and three promises per call (withTimeout) were a visible part of the hot path's CPU.
 */
export class FixedTimeouts {
  private queue: Deadline[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly what: string,
  ) {}

  /** Rejects when `p` has not settled within the fixed length; `p` itself keeps running. */
  race<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const d: Deadline = {
        at: Date.now() + this.ms,
        settled: false,
        expire: () => reject(new Error(`${this.what} timed out after ${this.ms} ms`)),
      };
      this.queue.push(d);
      this.arm();
      p.then(
        (v) => {
          d.settled = true;
          d.expire = NOTHING;
          resolve(v);
        },
        (err: unknown) => {
          d.settled = true;
          d.expire = NOTHING;
          reject(err as Error);
        },
      );
    });
  }

  /** Waiting deadlines (settled ones are dropped as the timer passes them). */
  get size(): number {
    return this.queue.length - this.head;
  }

  private arm(): void {
    if (this.timer !== null || this.size === 0) return;
    const first = this.queue[this.head] as Deadline;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, first.at - Date.now()));
  }

  private sweep(): void {
    this.timer = null;
    const t = Date.now();
    while (this.head < this.queue.length) {
      const d = this.queue[this.head] as Deadline;
      if (!d.settled && d.at > t) break;
      this.head++;
      if (!d.settled) {
        d.settled = true;
        d.expire();
      }
    }
    // Compact once the passed part dominates, so the array does not grow for ever.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.arm();
  }
}
