import { readFileSync } from 'node:fs';
import { AppError, ErrorCode, isAppError, unavailable } from '../errors.js';
import { barrierOf, type ReplicaBarrier } from './barrier.js';
import type { RedisClient } from './client.js';
import type { ActivityKeys } from './keys.js';

/**
 * The refusal every script answers, before touching a key, to ARGV it was not written for (lua/argv.lua):
 * `{-100, '<argument name>'}`, whatever the script's own reply shape. `run` turns it into `argvError`.
 */
export enum ScriptCode {
  ARGV_INVALID = -100,
}

/** The one typed error of an ARGV refusal: bad input that slipped past the caller, so a 400. */
export function argvError(script: string, argument: string): AppError {
  return new AppError(ErrorCode.VALIDATION_FAILED, `${script}.lua refused its ${argument} argument`, {
    extra: { script, argument },
  });
}

/** True for the error of an ARGV refusal (nothing was read or written: there is nothing to undo). */
export const isArgvError = (err: unknown): boolean =>
  isAppError(err) && err.code === ErrorCode.VALIDATION_FAILED && err.extra?.script !== undefined;

/** Return codes of lua/purchase.lua (see its header). */
export enum PurchaseCode {
  ACCEPTED = 1,
  REPLAYED = 2,
  /** A key replay of an order the worker already took: answered again, published no more. */
  REPLAYED_TAKEN = 3,
  NOT_FOUND = -1,
  NOT_PREHEATED = -2,
  NOT_STARTED = -3,
  ENDED = -4,
  PAUSED = -5,
  LIMIT_EXCEEDED = -6,
  ALREADY_PURCHASED = -7,
  SOLD_OUT = -8,
  TOKEN_REQUIRED = -9,
  TOKEN_INVALID = -10,
}

/** Return codes of lua/restore.lua. */
export enum RestoreCode {
  RESTORED = 1,
  NOT_HELD = 0,
  NO_STOCK = -1,
  CLAIMED = 2,
  KEPT = 3,
}

/** Return codes of lua/preheat.lua. */
export enum PreheatCode {
  CREATED = 1,
  UPDATED = 2,
  UNCHANGED = 3,
  /** The stock key was missing and orders in Postgres hold units: stock = total - held. */
  REBUILT = 4,
  BELOW_SOLD = -1,
}

export interface PurchaseResult {
  code: PurchaseCode;
  orderId: string;
  remaining: number;
  quantity: number;
}

/**
 * The purchase token as lua/purchase.lua takes it: the verified nonce, "" for none presented, "-" for one
 * that failed verification; keepMs = how long after the window a spent nonce is remembered.
 */
export interface PurchaseTokenArg {
  nonce: string;
  keepMs: number;
}

/** The one place a purchase return code becomes a typed error; success codes map to null. */
export function purchaseError(r: PurchaseResult): AppError | null {
  switch (r.code) {
    case PurchaseCode.ACCEPTED:
    case PurchaseCode.REPLAYED:
    case PurchaseCode.REPLAYED_TAKEN:
      return null;
    case PurchaseCode.NOT_FOUND:
      return new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
    case PurchaseCode.NOT_PREHEATED:
      return unavailable('the activity exists but its stock is not preheated yet');
    case PurchaseCode.NOT_STARTED:
      return new AppError(ErrorCode.NOT_STARTED);
    case PurchaseCode.ENDED:
      return new AppError(ErrorCode.ENDED);
    case PurchaseCode.PAUSED:
      return new AppError(ErrorCode.NOT_STARTED, 'the sale is paused');
    case PurchaseCode.LIMIT_EXCEEDED:
      return new AppError(ErrorCode.LIMIT_EXCEEDED, 'quantity is above the per-user limit');
    case PurchaseCode.ALREADY_PURCHASED:
      return new AppError(ErrorCode.ALREADY_PURCHASED, 'you already hold an order for this activity', {
        extra: { orderId: r.orderId },
      });
    case PurchaseCode.SOLD_OUT:
      return new AppError(ErrorCode.SOLD_OUT, r.remaining > 0 ? `only ${r.remaining} left` : undefined);
    case PurchaseCode.TOKEN_REQUIRED:
      return new AppError(ErrorCode.TOKEN_REQUIRED, 'this sale needs a purchase token (POST …/token)');
    case PurchaseCode.TOKEN_INVALID:
      return new AppError(ErrorCode.TOKEN_INVALID, 'the purchase token is invalid, expired or already used');
    default:
      return new AppError(ErrorCode.INTERNAL, `unknown purchase code ${String(r.code)}`);
  }
}

/** Return codes of lua/release.lua. */
export enum ReleaseCode {
  RELEASED = 1,
  ALREADY = 0,
  NO_STOCK = -1,
}

const SCRIPTS = {
  purchase: 7,
  restore: 5,
  preheat: 3,
  claim: 3,
  release: 3,
  park: 3,
  result: 3,
  lease: 1,
  // Three limits per call at most; a limit a call does not use passes count 0 (lua/rate-limit.lua).
  'rate-limit': 3,
} as const;
type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number;
type Runner = (...args: Arg[]) => Promise<unknown>;

const file = (name: string): string => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
/** Redis has no includes: the shared ARGV checks go in front of every script's own text. */
const source = (name: string): string => `${file('argv')}\n${file(name)}`;
const command = (name: string): string => `stampede_${name}`;

/** Defines each `lua/<name>.lua` (with its key count) as an ioredis command, once per client. */
export function defineScripts(redis: RedisClient, table: Record<string, number>): void {
  const r = redis as unknown as Record<string, unknown>;
  for (const [name, numberOfKeys] of Object.entries(table)) {
    if (typeof r[command(name)] !== 'function')
      redis.defineCommand(command(name), { numberOfKeys, lua: source(name) });
  }
}

/** One script call (EVALSHA, EVAL on NOSCRIPT); an ARGV refusal becomes `argvError`. */
export async function runScript<T>(
  redis: RedisClient,
  name: string,
  keys: string[],
  argv: Arg[],
): Promise<T> {
  const fn = (redis as unknown as Record<string, Runner>)[command(name)] as Runner;
  const reply = await fn.call(redis, ...keys, ...argv);
  if (Array.isArray(reply) && reply[0] === ScriptCode.ARGV_INVALID) throw argvError(name, String(reply[1]));
  return reply as T;
}

/**
 * The scripts as ioredis commands: EVALSHA with a transparent EVAL fallback, so a call is one round trip
 * (in Cluster mode each node loads a script on its first NOSCRIPT). Every key is passed in KEYS; nothing
 * inside a script builds a key name. With a replica barrier (REDIS_WAIT_REPLICAS, barrier.ts) a write
 * someone will be told about (a purchase, a restore, a claim, a release, a park) is answered only once
 * the replicas hold it, so a failover cannot take it back.
 */
export class Scripts {
  private readonly barrier: ReplicaBarrier | undefined;

  constructor(private readonly redis: RedisClient) {
    this.barrier = barrierOf(redis);
    defineScripts(redis, SCRIPTS);
  }

  private run<T>(name: ScriptName, keys: string[], argv: Arg[]): Promise<T> {
    return runScript<T>(this.redis, name, keys, argv);
  }

  async purchase(
    k: ActivityKeys,
    userId: string,
    orderId: string,
    quantity: number,
    idemKey = '',
    token: PurchaseTokenArg = { nonce: '', keepMs: 0 },
  ): Promise<PurchaseResult> {
    const [code, id, remaining, qty] = await this.run<[number, string, number, number]>(
      'purchase',
      [k.stock, k.buyers, k.info, k.idem, k.kept, k.tokens, k.claimed],
      [userId, orderId, quantity, idemKey, token.nonce, token.keepMs],
    );
    // A replay may have marked the order kept: that write must survive a failover as much as a purchase.
    if (code === PurchaseCode.ACCEPTED || code === PurchaseCode.REPLAYED) await this.barrier?.pass();
    return { code: code as PurchaseCode, orderId: String(id), remaining, quantity: qty ?? 0 };
  }

  async restore(k: ActivityKeys, userId: string, orderId: string, channel: string, activity: string) {
    const once = async () => {
      const [code, remaining] = await this.run<[number, number]>(
        'restore',
        [k.stock, k.buyers, k.idem, k.claimed, k.kept],
        [userId, orderId, channel, activity],
      );
      return { code: code as RestoreCode, remaining: Number(remaining) };
    };
    const first = once();
    void this.settleRestore(first, once);
    return first;
  }

  /**
   * The caller may answer 503 without waiting, so the unit must come back even when this answer is lost:
   * a connection drop rejects the unanswered part of an autopipeline instead of re-sending it, and a
   * failover can take back a give-back the replicas had not seen. Until one attempt is answered and (with
   * a replica barrier) replicated, the restore is repeated: a no-op where it landed, the give-back where
   * it did not, so the unit is back exactly once.
   */
  private async settleRestore(first: Promise<unknown>, once: () => Promise<unknown>): Promise<void> {
    let attempt = first;
    for (let i = 0; ; i++) {
      try {
        await attempt;
        return await this.barrier?.pass();
      } catch (err) {
        // A refused call changed nothing, and would be refused again.
        if (i >= 30 || isArgvError(err)) return;
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** i, 2000)));
        attempt = once();
      }
    }
  }

  async preheat(
    k: ActivityKeys,
    argv: Arg[],
  ): Promise<{ code: PreheatCode; remaining: number; total: number }> {
    const [code, remaining, total] = await this.run<[number, number, number]>(
      'preheat',
      [k.stock, k.info, k.room],
      argv,
    );
    return { code: code as PreheatCode, remaining: Number(remaining), total: Number(total) };
  }

  /** One call per activity: true for each (userId, orderId) the worker may persist. */
  async claim(k: ActivityKeys, pairs: { userId: string; orderId: string }[]): Promise<boolean[]> {
    const argv = pairs.flatMap((p) => [p.userId, p.orderId]);
    const codes = await this.run<number[]>('claim', [k.buyers, k.claimed, k.released], argv);
    // Not replicated: the worker treats the error as an outage and the batch comes back (claims repeat).
    if (codes.includes(1)) await this.barrier?.pass();
    return codes.map((c) => c === 1);
  }

  async release(k: ActivityKeys, userId: string, orderId: string, channel: string, activity: string) {
    const [code, remaining] = await this.run<[number, number]>(
      'release',
      [k.stock, k.buyers, k.released],
      [userId, orderId, channel, activity],
    );
    // Not replicated: the stock outbox keeps the order owed and releases it again (exactly once per order).
    if (code === ReleaseCode.RELEASED) await this.barrier?.pass();
    return { code: code as ReleaseCode, remaining: Number(remaining) };
  }

  /** Marks a parked order (`mark` "parked") or a re-driven one ("1"); true when its unit is still held. */
  async park(k: ActivityKeys, userId: string, orderId: string, mark: 'parked' | '1'): Promise<boolean> {
    const held = await this.run<number>('park', [k.buyers, k.claimed, k.released], [userId, orderId, mark]);
    await this.barrier?.pass();
    return held === 1;
  }

  /** The user's buyer entry with its claim and release markers ("" when absent), one round trip. */
  async result(
    k: ActivityKeys,
    userId: string,
  ): Promise<{ entry: string; claimed: string; released: string }> {
    const [entry, claimed, released] = await this.run<[string, string, string]>(
      'result',
      [k.buyers, k.claimed, k.released],
      [userId],
    );
    return { entry, claimed, released };
  }

  /** Takes or renews a lease for `ttlMs`; false while another holder has it (lua/lease.lua). */
  async lease(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run<number>('lease', [key], [holder, ttlMs])) === 1;
  }

  /** lua/rate-limit.lua: `[code, limit, retryMs]` for three (key; count, periodMs) limits. */
  rateLimit(keys: [string, string, string], argv: number[]): Promise<[number, number, number]> {
    return this.run('rate-limit', keys, argv);
  }
}
