import { Counter, type Registry } from 'prom-client';
import { AppError, ErrorCode } from './errors.js';
import type { Logger } from './log.js';
import type { RedisClient } from './redis/client.js';
import type { Scripts } from './redis/scripts.js';
import { withTimeout } from './timeout.js';

/**
 * Fixed windows (one second by default), in this process only. A window is a Map dropped whole when the
 * window turns, so memory is bounded by one window's distinct keys and the check is O(1) with no timers.
 * The limits themselves are cluster-wide (ClusterLimiter); this is their fallback while Redis is away.
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

/** The largest count lua/rate-limit.lua takes (config bounds the SECKILL_RATE_* and API_* limits by it). */
export const MAX_RATE = 1_000_000_000;

/** One limit: `count` requests per `periodMs` per subject; 0 turns it off. */
export interface LimitSpec {
  name: string;
  count: number;
  periodMs: number;
}

/** Return codes of lua/rate-limit.lua (see its header). */
export enum RateLimitCode {
  ALLOWED = 1,
  LIMITED = 0,
  INVALID = -1,
}

/** The one place a rate-limit return code becomes a typed error; ALLOWED maps to null. */
export function rateLimitError(code: RateLimitCode, what: string, retryMs: number): AppError | null {
  switch (code) {
    case RateLimitCode.ALLOWED:
      return null;
    case RateLimitCode.LIMITED:
      return limited(what, Math.max(1, Math.ceil(retryMs / 1000)));
    default:
      return new AppError(ErrorCode.INTERNAL, `rate-limit script refused its arguments (${String(code)})`);
  }
}

const limited = (what: string, retryAfter: number): AppError =>
  new AppError(ErrorCode.RATE_LIMITED, `${what} rate limit reached`, { retryAfter });

export interface RateLimitMetrics {
  refused: Counter<'scope' | 'limit' | 'where'>;
  fallbacks: Counter<'scope'>;
}

export function rateLimitMetrics(registry: Registry): RateLimitMetrics {
  return {
    refused: new Counter({
      name: 'stampede_rate_limited_total',
      help: 'Requests refused 429 by limit; where = local (in-process), cluster (Redis), fallback (Redis unreachable).',
      labelNames: ['scope', 'limit', 'where'],
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'stampede_rate_limit_fallbacks_total',
      help: 'Limit checks decided by this process alone because Redis did not answer (fail open to per-process limits).',
      labelNames: ['scope'],
      registers: [registry],
    }),
  };
}

export interface ClusterLimiterOptions {
  redis: RedisClient;
  scripts: Scripts;
  prefix: string;
  /** Names the hash tag `{rl:<scope>}`: every key of one call on one Redis Cluster slot. */
  scope: string;
  /** One to three limits, in the order of the subjects every call passes. */
  limits: LimitSpec[];
  /** How long a check may wait for Redis before this process decides alone. */
  timeoutMs: number;
  metrics: RateLimitMetrics;
  log: Logger;
  now?: () => number;
}

/** One process' limiters: they share its Redis connection, scripts and metrics; each names its scope. */
export const clusterLimiters =
  (shared: Omit<ClusterLimiterOptions, 'scope' | 'limits'>) =>
  (scope: string, limits: LimitSpec[]): ClusterLimiter =>
    new ClusterLimiter({ ...shared, scope, limits });

/** `subjects[i]` is the subject of `limits[i]` for one request, or undefined where that limit does not apply. */
export type Subjects = readonly (string | undefined)[];

/**
 * What the cluster refused, remembered until the refusal's retry time: GCRA's arrival time only moves
 * later (other processes' requests push it on, nothing pulls it back), so until then the cluster would
 * refuse again. The deadline counts from before the call was sent, so it never outlasts the real one.
 * Two generations of `generationMs` (the longest period) bound memory by what was refused recently.
 */
class Refusals {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private turnedAt: number;

  constructor(
    private readonly generationMs: number,
    private readonly now: () => number,
  ) {
    this.turnedAt = now();
  }

  /** Nothing refused lately: the common case, answered without building a key. */
  get empty(): boolean {
    return this.current.size === 0 && this.previous.size === 0;
  }

  /** Milliseconds this key is still refused for; 0 when the cluster may have room. */
  wait(key: string): number {
    const t = this.now();
    const until = this.current.get(key) ?? this.previous.get(key) ?? 0;
    return until > t ? until - t : 0;
  }

  add(key: string, until: number): void {
    const t = this.now();
    if (t - this.turnedAt >= this.generationMs) {
      this.previous = this.current;
      this.current = new Map();
      this.turnedAt = t;
    }
    this.current.set(key, until);
  }
}

/**
 * Limits that hold across every process and pod: one lua/rate-limit.lua call (GCRA, all limits of the
 * request at once, Redis' clock). In front of it an in-process pre-filter refuses, without Redis, only
 * what the cluster refused a moment ago and must still refuse (Refusals): a subject over its limit costs
 * one Redis call per opening slot, not one per request, and nothing the cluster would admit is refused.
 * When Redis does not answer, the process decides alone with the plain per-process limit (fail open,
 * counted in stampede_rate_limit_fallbacks_total): a limiter outage never becomes a 500, and never an
 * unlimited door.
 */
export class ClusterLimiter {
  private readonly refusals: Refusals;
  private readonly fallback: RateLimiter[];
  private readonly base: string;
  private readonly now: () => number;
  private warnedAt = 0;

  constructor(private readonly o: ClusterLimiterOptions) {
    if (o.limits.length < 1 || o.limits.length > 3) throw new Error('a ClusterLimiter takes 1 to 3 limits');
    this.now = o.now ?? Date.now;
    this.refusals = new Refusals(Math.max(...o.limits.map((l) => l.periodMs)), this.now);
    this.fallback = o.limits.map((l) => new RateLimiter(l.count, this.now, l.periodMs));
    this.base = `${o.prefix}:{rl:${o.scope}}`;
  }

  /** The in-process pre-filter (no network, counts nothing): a RATE_LIMITED error, or null. */
  screen(subjects: Subjects): AppError | null {
    if (this.refusals.empty) return null;
    for (const [i, l] of this.o.limits.entries()) {
      const subject = subjects[i];
      if (subject === undefined || l.count <= 0) continue;
      const wait = this.refusals.wait(this.key(i, subject));
      if (!wait) continue;
      this.o.metrics.refused.inc({ scope: this.o.scope, limit: l.name, where: 'local' });
      return limited(l.name, Math.ceil(wait / 1000));
    }
    return null;
  }

  /** The cluster-wide verdict: a RATE_LIMITED error, or null. Never rejects. */
  async take(subjects: Subjects): Promise<AppError | null> {
    const on = this.o.limits.map((l, i) => l.count > 0 && subjects[i] !== undefined);
    if (!on.includes(true)) return null;
    if (this.o.redis.status !== 'ready') return this.outage(subjects);
    const keys = [0, 1, 2].map((i) => (on[i] ? this.key(i, subjects[i] as string) : `${this.base}:-`));
    const argv = [0, 1, 2].flatMap((i) => {
      const l = this.o.limits[i];
      return on[i] && l ? [l.count, l.periodMs] : [0, 1];
    });
    const sent = this.now();
    try {
      const call = this.o.scripts.rateLimit(keys as [string, string, string], argv);
      const [code, which, retryMs] = await withTimeout(call, this.o.timeoutMs, 'rate-limit script');
      const limit = this.o.limits[which - 1]?.name ?? '';
      const err = rateLimitError(code as RateLimitCode, limit, retryMs);
      if (err && err.code !== ErrorCode.RATE_LIMITED) throw err;
      if (err) {
        this.refusals.add(keys[which - 1] as string, sent + retryMs);
        this.o.metrics.refused.inc({ scope: this.o.scope, limit, where: 'cluster' });
      }
      return err;
    } catch (err) {
      // Once per 10 s: an outage would otherwise log every request.
      if (Date.now() - this.warnedAt > 10_000) {
        this.warnedAt = Date.now();
        this.o.log.warn({ err, scope: this.o.scope }, 'rate limits decided in-process: Redis did not answer');
      }
      return this.outage(subjects);
    }
  }

  /**
   * The plain per-process limit, for answers that never reach Redis (a sold-out sale answered from
   * memory): a Redis check would cost more than the answer it guards.
   */
  local(subjects: Subjects): AppError | null {
    return this.perProcess(subjects, 'local');
  }

  private outage(subjects: Subjects): AppError | null {
    this.o.metrics.fallbacks.inc({ scope: this.o.scope });
    return this.perProcess(subjects, 'fallback');
  }

  private perProcess(subjects: Subjects, where: string): AppError | null {
    for (const [i, l] of this.fallback.entries()) {
      const subject = subjects[i];
      if (subject === undefined) continue;
      const wait = l.take(subject);
      if (!wait) continue;
      const limit = this.o.limits[i]?.name ?? '';
      this.o.metrics.refused.inc({ scope: this.o.scope, limit, where });
      return limited(limit, wait);
    }
    return null;
  }

  private key(i: number, subject: string): string {
    return `${this.base}:${this.o.limits[i]?.name ?? ''}:${subject}`;
  }
}
