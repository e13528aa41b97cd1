import type { Logger } from '../../core/log.js';
import type { RedisClient } from '../../core/redis/client.js';
import { activityKeys, roomsIndexKey } from '../../core/redis/keys.js';
import { AdmitCode, type AdmitResult, type RoomScripts } from '../../core/redis/room-scripts.js';
import type { Scripts } from '../../core/redis/scripts.js';
import type { RoomMetrics } from './metrics.js';

export interface AdmitterOptions {
  redis: RedisClient;
  scripts: Scripts;
  room: RoomScripts;
  prefix: string;
  /** This process' lease holder id. */
  holder: string;
  /** An admission pass per held room this often (SECKILL_QUEUE_TICK_MS). */
  tickMs: number;
  /** The rooms are rescanned and leases taken or renewed this often; a lease lasts three of these. */
  scanMs: number;
  metrics: RoomMetrics;
  log: Logger;
  now?: () => number;
}

/** The most admissions one pass may make: bounds the reply (the script's pacing decides the rest). */
const MOST_PER_PASS = 10_000;
/** The passes whose counts describe the room (the others did nothing: before the start, no room). */
const REPORTED = new Set([AdmitCode.ADMITTING, AdmitCode.SOLD_OUT, AdmitCode.ENDED, AdmitCode.PAUSED]);

/**
 * One admitter per sale, whichever process holds the room's lease (lua/lease.lua under the activity's
 * hash tag): every seckill process runs this, each room's passes run where its lease is. A holder that
 * dies stops renewing; another process takes the lease within three scans. Two holders at once (a
 * lease moving while a pass is in flight) only pace faster for a moment: every admission is atomic in
 * lua/queue-admit.lua, so nobody is admitted twice or skipped.
 */
export class Admitter {
  private readonly held = new Map<string, number>();
  private scanTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly now: () => number;

  constructor(private readonly o: AdmitterOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.scanTimer = setInterval(() => void this.scan(), this.o.scanMs);
    this.tickTimer = setInterval(() => void this.tick(), this.o.tickMs);
    this.scanTimer.unref();
    this.tickTimer.unref();
    void this.scan();
  }

  stop(): void {
    clearInterval(this.scanTimer);
    clearInterval(this.tickTimer);
    for (const name of this.held.keys()) this.drop(name);
  }

  /** Rooms whose sale has not ended: take or renew each one's lease. */
  async scan(): Promise<void> {
    try {
      const rooms = await this.o.redis.zrangebyscore(roomsIndexKey(this.o.prefix), this.now(), '+inf');
      for (const name of this.held.keys()) if (!rooms.includes(name)) this.drop(name);
      const ttl = this.o.scanMs * 3;
      for (const name of rooms) {
        const k = activityKeys(this.o.prefix, name);
        const mine = await this.o.scripts.lease(k.roomLease, this.o.holder, ttl);
        if (mine) this.held.set(name, this.now() + ttl - this.o.scanMs);
        else this.drop(name);
      }
    } catch (err) {
      this.o.log.warn({ err }, 'waiting room scan failed');
    }
  }

  /** One admission pass per room this process holds (passes never overlap within a process). */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const [name, until] of this.held) {
        if (this.now() >= until) continue;
        const r = await this.o.room.admit(activityKeys(this.o.prefix, name), MOST_PER_PASS);
        this.record(name, r);
      }
    } catch (err) {
      this.o.log.warn({ err }, 'waiting room admission pass failed');
    } finally {
      this.ticking = false;
    }
  }

  private record(name: string, r: AdmitResult): void {
    if (!REPORTED.has(r.code)) return;
    const m = this.o.metrics;
    m.waiting.set({ activity: name }, r.waiting);
    m.active.set({ activity: name }, r.active);
    if (r.admitted > 0) m.admitted.inc({ activity: name }, r.admitted);
    if (r.noShows > 0) m.noShows.inc({ activity: name }, r.noShows);
    for (const w of r.waits) m.wait.observe({ activity: name }, w / 1000);
  }

  private drop(name: string): void {
    if (!this.held.delete(name)) return;
    this.o.metrics.waiting.remove({ activity: name });
    this.o.metrics.active.remove({ activity: name });
  }
}
