import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { Logger } from '../core/log.js';
import type { OrderMetrics } from '../core/metrics.js';
import type { ConfirmPublisher } from '../core/messaging/publisher.js';
import { ROUTING, type OrderPlaced } from '../core/messaging/topology.js';
import { activityKeys } from '../core/redis/keys.js';
import { Scripts } from '../core/redis/scripts.js';

export interface ReconcileDeps {
  db: Sequelize;
  redis: RedisClient;
  prefix: string;
  publisher: ConfirmPublisher;
  metrics: OrderMetrics;
  log: Logger;
  graceMs: number;
  /** Most buyer entries one run looks at, across activities (HSCAN pages). */
  batch: number;
  /** The run interval: the lease lasts three of them, so a dead holder's lapses soon. */
  intervalMs: number;
  /** Messages waiting in the work and retry queues, or null when the broker cannot say. */
  backlog: () => Promise<number | null>;
  now?: () => number;
}

export interface ReconcileRun {
  leader: boolean;
  scanned: number;
  /** Order ids published again by this run. */
  republished: string[];
}

/** Milliseconds since the epoch encoded in a UUIDv7 (its first 48 bits). */
export const uuidv7Time = (id: string): number => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

interface ActivityRow {
  name: string;
  sold: number;
}
interface Entry {
  userId: string;
  orderId: string;
  quantity: number;
}

/**
 * The buyers hash doubles as the outbox: an entry (not given back, not parked) older than the grace
 * period whose order has no row was accepted but its message was lost; it is published again (the
 * worker's claim and the unique key make that safe). At scale that must stay cheap and must not feed a
 * backlog, so: one replica runs it at a time (a Redis lease); each run looks at about `batch` entries
 * (HSCAN's COUNT is a hint: a page may run a bucket past it), continuing each activity's HSCAN where the
 * last run stopped; nothing is re-published while the work or retry queues hold messages (a backlog
 * explains missing rows: a paused or slow consumer must not see its queue doubled every run); and an order
 * is re-published at most once per grace period (a marker with that TTL). Also exports Redis-vs-Postgres
 * drift per activity.
 */
export class Reconciler {
  private readonly holder = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly cursors = new Map<string, string>();
  private next = 0;

  constructor(private readonly d: ReconcileDeps) {}

  async run(): Promise<ReconcileRun> {
    const scripts = new Scripts(this.d.redis);
    const ttl = Math.max(1000, 3 * this.d.intervalMs);
    if (!(await scripts.lease(`${this.d.prefix}:orders:reconciler-lease`, this.holder, ttl)))
      return { leader: false, scanned: 0, republished: [] };
    const activities = await this.d.db.query<ActivityRow>(
      `SELECT name, sold FROM seckill_activities WHERE end_time > now() - interval '1 day' ORDER BY name`,
      { type: QueryTypes.SELECT },
    );
    for (const a of activities) await this.drift(a);
    const backlog = await this.d.backlog();
    const out: ReconcileRun = { leader: true, scanned: 0, republished: [] };
    for (let i = 0; i < activities.length && out.scanned < this.d.batch; i++) {
      const at = (this.next + i) % activities.length;
      const a = activities[at] as ActivityRow;
      const done = await this.scanActivity(a.name, backlog, out);
      // Out of budget inside this activity: the next run starts here, at its saved cursor.
      this.next = done ? (at + 1) % activities.length : at;
    }
    if (out.republished.length)
      this.d.log.warn({ count: out.republished.length }, 're-published accepted orders without a row');
    return out;
  }

  private async drift(a: ActivityRow): Promise<void> {
    const k = activityKeys(this.d.prefix, a.name);
    const res = await this.d.redis.multi().get(k.stock).hget(k.info, 'total').exec();
    const stock = res?.[0]?.[1] as string | null;
    const total = res?.[1]?.[1] as string | null;
    if (stock !== null && total !== null)
      this.d.metrics.drift.set({ activity: a.name }, Number(total) - Number(stock) - a.sold);
  }

  /** HSCAN pages of one activity until its cursor wraps (true) or the run's budget is spent (false). */
  private async scanActivity(name: string, backlog: number | null, out: ReconcileRun): Promise<boolean> {
    const k = activityKeys(this.d.prefix, name);
    let cursor = this.cursors.get(name) ?? '0';
    do {
      const count = Math.max(10, this.d.batch - out.scanned);
      const [nextCursor, flat] = await this.d.redis.hscan(k.buyers, cursor, 'COUNT', count);
      cursor = nextCursor;
      const entries: Entry[] = [];
      for (let j = 0; j < flat.length; j += 2) {
        const v = flat[j + 1] as string;
        const sep = v.indexOf(':');
        entries.push({
          userId: flat[j] as string,
          orderId: v.slice(0, sep),
          quantity: Number(v.slice(sep + 1)),
        });
      }
      out.scanned += entries.length;
      out.republished.push(...(await this.republishLost(name, entries, backlog)));
    } while (cursor !== '0' && out.scanned < this.d.batch);
    if (cursor === '0') this.cursors.delete(name);
    else this.cursors.set(name, cursor);
    return cursor === '0';
  }

  private async republishLost(name: string, entries: Entry[], backlog: number | null): Promise<string[]> {
    const cutoff = (this.d.now ?? Date.now)() - this.d.graceMs;
    const old = entries.filter((e) => uuidv7Time(e.orderId) < cutoff);
    if (old.length === 0) return [];
    const k = activityKeys(this.d.prefix, name);
    const ids = old.map((e) => e.orderId);
    const marks = await this.d.redis
      .multi()
      .hmget(k.released, ...ids)
      .hmget(k.claimed, ...ids)
      .exec();
    const released = (marks?.[0]?.[1] ?? []) as (string | null)[];
    const claimed = (marks?.[1]?.[1] ?? []) as (string | null)[];
    const open = old.filter((_, i) => !released[i] && claimed[i] !== 'parked');
    if (open.length === 0) return [];
    const found = await this.d.db.query<{ id: string }>(`SELECT id FROM orders WHERE id = ANY($1::uuid[])`, {
      bind: [open.map((c) => c.orderId)],
      type: QueryTypes.SELECT,
    });
    const have = new Set(found.map((r) => r.id));
    const missing = open.filter((c) => !have.has(c.orderId));
    // A backlog (or a broker that cannot say) explains missing rows: publishing now would only add copies.
    if (missing.length === 0 || backlog !== 0) return [];
    return this.republishOnce(name, missing);
  }

  /** Publishes each order unless it was re-published within the grace period (marker with that TTL). */
  private async republishOnce(name: string, missing: Entry[]): Promise<string[]> {
    // Same hash tag as the activity's keys (keys.ts): one marker per re-published order, expiring by itself.
    const marker = (id: string) => `${this.d.prefix}:{a:${name}}:republished:${id}`;
    const m = this.d.redis.multi();
    for (const c of missing) m.set(marker(c.orderId), '1', 'PX', this.d.graceMs, 'NX');
    const set = (await m.exec()) ?? [];
    const due = missing.filter((_, i) => set[i]?.[1] === 'OK');
    for (const c of due) {
      const msg: OrderPlaced = {
        orderId: c.orderId,
        activity: name,
        userId: c.userId,
        quantity: c.quantity,
        placedAt: new Date(uuidv7Time(c.orderId)).toISOString(),
        requestId: `reconcile-${c.orderId}`,
      };
      await this.d.publisher.publish(ROUTING.placed, msg, {
        messageId: c.orderId,
        headers: { 'x-attempt': 0, 'x-reconciled': true },
      });
    }
    return due.map((c) => c.orderId);
  }
}
