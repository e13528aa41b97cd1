import type { RedisClient } from '../core/redis/client.js';
import { readActivity, type StoredActivity } from '../core/activity/preheat.js';
import { unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { withTimeout } from '../core/timeout.js';
import { activityKeys, stockEventsChannel } from '../core/redis/keys.js';

const TTL_MS = 2000;
const MISSING_TTL_MS = 1000;
/** A set sold-out flag is re-probed this often, in case a stock event was missed during a disconnect. */
const SOLD_OUT_PROBE_MS = 2000;

interface Entry {
  value: StoredActivity | null;
  at: number;
}

/**
 * In-process knowledge of activities: their info (window, limit) and a sold-out flag. Both only ever let the
 * hot path answer without Redis when the answer is certain enough; the Lua script stays authoritative.
 * Every stock change (return, preheat) is announced on Redis pub/sub and clears both here, on every pod.
 */
export class ActivityCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<StoredActivity | null>>();
  private readonly soldOut = new Map<string, number>();
  private readonly probing = new Set<string>();
  private readonly seen = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached activity without waiting; a stale or absent entry is refreshed in the background. */
  peek(name: string): StoredActivity | null | undefined {
    const e = this.entries.get(name);
    const fresh = e && this.now() - e.at < (e.value ? TTL_MS : MISSING_TTL_MS);
    if (!fresh) void this.load(name).catch(() => undefined);
    return e?.value;
  }

  /**
   * True once the activity was seen to exist; never touches Redis (safe for metric labels). Kept apart
   * from the entries: a stock event that forgets an entry while a request is in flight must not move that
   * request's count to the `unknown` label (the panels then missed a few purchases of a sale).
   */
  known(name: string): boolean {
    return this.seen.has(name);
  }

  /** True while a loaded entry is held (a stock event or a reconnect forgets it). */
  holds(name: string): boolean {
    return this.entries.has(name);
  }

  /** Reads through to Redis (single-flight per activity). */
  load(name: string): Promise<StoredActivity | null> {
    const running = this.loading.get(name);
    if (running) return running;
    if (this.redis.status !== 'ready') return Promise.reject(unavailable('stock store unavailable'));
    const p = withTimeout(readActivity(this.redis, this.prefix, name), this.timeoutMs, 'activity read')
      .then((value) => {
        this.entries.set(name, { value, at: this.now() });
        if (value) this.seen.add(name);
        return value;
      })
      .finally(() => this.loading.delete(name));
    this.loading.set(name, p);
    return p;
  }

  /** Cached for a short while: `GET …/stock` is polled by every waiting shopper. */
  async stock(name: string): Promise<StoredActivity | null> {
    const e = this.entries.get(name);
    if (e && this.now() - e.at < 250) return e.value;
    return this.load(name);
  }

  /**
   * While a sale is sold out every request answers from here. The flag is re-probed every 2 s in case a
   * stock event was missed, by one background read of the stock: the crowd keeps its in-memory answer
   * meanwhile (letting every request through to the script at each expiry was a burst of slow answers).
   */
  isSoldOut(name: string): boolean {
    const until = this.soldOut.get(name);
    if (until === undefined) return false;
    if (until <= this.now() && !this.probing.has(name)) void this.probe(name);
    return true;
  }

  private async probe(name: string): Promise<void> {
    this.probing.add(name);
    try {
      const key = activityKeys(this.prefix, name).stock;
      const stock = await withTimeout(this.redis.get(key), this.timeoutMs, 'sold-out probe');
      // Only a flag still standing is renewed: a stock event may have cleared it meanwhile.
      if (stock !== null && Number(stock) <= 0 && this.soldOut.has(name)) this.markSoldOut(name);
      else this.soldOut.delete(name);
    } catch {
      // Redis cannot say: let requests through, so the script (or its 503) answers as before the flag.
      this.soldOut.delete(name);
    } finally {
      this.probing.delete(name);
    }
  }

  markSoldOut(name: string): void {
    this.soldOut.set(name, this.now() + SOLD_OUT_PROBE_MS);
  }

  invalidate(name: string): void {
    this.soldOut.delete(name);
    this.entries.delete(name);
  }

  /** Subscribes `sub` (a dedicated connection) to stock events; a resubscribe forgets every flag. */
  async subscribe(sub: RedisClient): Promise<void> {
    const channel = stockEventsChannel(this.prefix);
    sub.on('message', (ch: string, activity: string) => {
      if (ch === channel) this.invalidate(activity);
    });
    sub.on('ready', () => {
      // Events may have been missed while disconnected.
      this.soldOut.clear();
      this.entries.clear();
    });
    await sub.subscribe(channel);
    this.log.debug({ channel }, 'subscribed to stock events');
  }
}
