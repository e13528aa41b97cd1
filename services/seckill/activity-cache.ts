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

/**
 * How many names the cache holds at most. Unknown names come from anyone (`GET …/stock` needs no login):
 * they are a negative cache of `missing` names, each forgotten after MISSING_TTL_MS or when newer ones
 * push it out. `known` bounds the metric-label names. `noEntry` bounds, per sold-out activity, the users
 * answered SOLD_OUT from memory despite their Idempotency-Key. Beyond a cap the cache answers less from
 * memory (one more Redis read), never wrongly.
 */
export interface CacheCaps {
  missing: number;
  known: number;
  noEntry: number;
}

const DEFAULT_CAPS: CacheCaps = { missing: 10_000, known: 10_000, noEntry: 100_000 };

interface Entry {
  value: StoredActivity;
  at: number;
}

interface SoldOut {
  /** When the flag is re-probed. */
  until: number;
  /** Users the script told SOLD_OUT since `since` (at most SOLD_OUT_PROBE_MS ago). */
  noEntry: Set<string>;
  since: number;
}

/** Adds `key` as the newest of an insertion-ordered map, dropping the oldest beyond `cap`. */
function remember<V>(m: Map<string, V>, key: string, value: V, cap: number): void {
  m.delete(key);
  m.set(key, value);
  while (m.size > cap) m.delete(m.keys().next().value as string);
}

/**
 * In-process knowledge of activities: their info (window, limit) and a sold-out flag. Both only ever let the
 * hot path answer without Redis when the answer is certain enough; the Lua script stays authoritative.
 * Every stock change (return, preheat) is announced on Redis pub/sub and clears both here, on every pod.
 */
export class ActivityCache {
  /** Existing activities only: their number is the platform's, not a caller's. */
  private readonly entries = new Map<string, Entry>();
  /** Names found missing → when; insertion order is age order, so the oldest goes first. */
  private readonly missing = new Map<string, number>();
  private readonly loading = new Map<string, Promise<StoredActivity | null>>();
  private readonly soldOut = new Map<string, SoldOut>();
  private readonly probing = new Set<string>();
  private readonly seen = new Map<string, true>();
  private readonly caps: CacheCaps;
  /** Moves on every stock event and reconnect: a script answer from an older epoch sets no flag. */
  private generation = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
    caps: Partial<CacheCaps> = {},
  ) {
    this.caps = { ...DEFAULT_CAPS, ...caps };
  }

  /** The cached activity without waiting; a stale or absent entry is refreshed in the background. */
  peek(name: string): StoredActivity | null | undefined {
    const e = this.entries.get(name);
    if (e) {
      if (this.now() - e.at >= TTL_MS) void this.load(name).catch(() => undefined);
      return e.value;
    }
    if (this.missingFor(name, MISSING_TTL_MS)) return null;
    void this.load(name).catch(() => undefined);
    return undefined;
  }

  /** True while `name` was found missing less than `ms` ago; an expired mark is dropped. */
  private missingFor(name: string, ms: number): boolean {
    const at = this.missing.get(name);
    if (at === undefined) return false;
    const age = this.now() - at;
    if (age >= MISSING_TTL_MS) this.missing.delete(name);
    return age < ms;
  }

  /** Names held in all of the cache's maps (the abuse test bounds it). */
  size(): number {
    let noEntry = 0;
    for (const f of this.soldOut.values()) noEntry += f.noEntry.size;
    return this.entries.size + this.missing.size + this.seen.size + this.soldOut.size + noEntry;
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
        if (value) {
          this.entries.set(name, { value, at: this.now() });
          this.missing.delete(name);
          remember(this.seen, name, true, this.caps.known);
        } else {
          this.entries.delete(name);
          remember(this.missing, name, this.now(), this.caps.missing);
        }
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
    if (!e && this.missingFor(name, MISSING_TTL_MS)) return null;
    return this.load(name);
  }

  /**
   * While a sale is sold out every request answers from here. The flag is re-probed every 2 s in case a
   * stock event was missed, by one background read of the stock: the crowd keeps its in-memory answer
   * meanwhile (letting every request through to the script at each expiry was a burst of slow answers).
   */
  isSoldOut(name: string): boolean {
    const flag = this.soldOut.get(name);
    if (flag === undefined) return false;
    if (flag.until <= this.now() && !this.probing.has(name)) void this.probe(name);
    return true;
  }

  /**
   * True while the sale is sold out and the script told `userId` SOLD_OUT in this flag's epoch, less than
   * SOLD_OUT_PROBE_MS ago. The script reads the buyer entry first, and no entry can appear while the stock
   * is empty: a unit must come back, which is announced and clears the flag. The age bound covers an
   * announcement still on its way (the flag's own probe has the same period).
   */
  soldOutFor(name: string, userId: string): boolean {
    const flag = this.soldOut.get(name);
    if (!flag || this.now() - flag.since >= SOLD_OUT_PROBE_MS || !flag.noEntry.has(userId)) return false;
    return this.isSoldOut(name);
  }

  /** The current epoch, taken before a script call and handed back with what its answer taught. */
  epoch(): number {
    return this.generation;
  }

  private async probe(name: string): Promise<void> {
    this.probing.add(name);
    try {
      const key = activityKeys(this.prefix, name).stock;
      const stock = await withTimeout(this.redis.get(key), this.timeoutMs, 'sold-out probe');
      // Only a flag still standing is renewed: a stock event may have cleared it meanwhile.
      const flag = this.soldOut.get(name);
      if (stock !== null && Number(stock) <= 0 && flag) flag.until = this.now() + SOLD_OUT_PROBE_MS;
      else this.soldOut.delete(name);
    } catch {
      // Redis cannot say: let requests through, so the script (or its 503) answers as before the flag.
      this.soldOut.delete(name);
    } finally {
      this.probing.delete(name);
    }
  }

  /** Sets (or renews) the flag from a script answer given in `epoch`; an older answer is ignored. */
  markSoldOut(name: string, epoch = this.generation): void {
    if (epoch !== this.generation) return;
    const until = this.now() + SOLD_OUT_PROBE_MS;
    const flag = this.soldOut.get(name);
    if (flag) flag.until = until;
    else this.soldOut.set(name, { until, noEntry: new Set(), since: this.now() });
  }

  /** The script told `userId` SOLD_OUT in `epoch` (see soldOutFor). */
  markNoEntry(name: string, userId: string, epoch: number): void {
    const flag = this.soldOut.get(name);
    if (!flag || epoch !== this.generation) return;
    if (this.now() - flag.since >= SOLD_OUT_PROBE_MS) {
      flag.noEntry = new Set();
      flag.since = this.now();
    }
    if (flag.noEntry.size < this.caps.noEntry) flag.noEntry.add(userId);
  }

  invalidate(name: string): void {
    this.generation++;
    this.soldOut.delete(name);
    this.entries.delete(name);
    this.missing.delete(name);
  }

  /** Subscribes `sub` (a dedicated connection) to stock events; a resubscribe forgets every flag. */
  async subscribe(sub: RedisClient): Promise<void> {
    const channel = stockEventsChannel(this.prefix);
    sub.on('message', (ch: string, activity: string) => {
      if (ch === channel) this.invalidate(activity);
    });
    sub.on('ready', () => {
      // Events may have been missed while disconnected.
      this.generation++;
      this.soldOut.clear();
      this.entries.clear();
      this.missing.clear();
    });
    await sub.subscribe(channel);
    this.log.debug({ channel }, 'subscribed to stock events');
  }
}
