import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { AppError, ErrorCode, unavailable } from '../errors.js';
import type { ActivityKeys } from './keys.js';

/** Return codes of lua/purchase.lua (see its header). */
export enum PurchaseCode {
  ACCEPTED = 1,
  REPLAYED = 2,
  NOT_FOUND = -1,
  NOT_PREHEATED = -2,
  NOT_STARTED = -3,
  ENDED = -4,
  PAUSED = -5,
  LIMIT_EXCEEDED = -6,
  ALREADY_PURCHASED = -7,
  SOLD_OUT = -8,
}

/** Return codes of lua/restore.lua. */
export enum RestoreCode {
  RESTORED = 1,
  NOT_HELD = 0,
  NO_STOCK = -1,
}

/** Return codes of lua/preheat.lua. */
export enum PreheatCode {
  CREATED = 1,
  UPDATED = 2,
  UNCHANGED = 3,
  BELOW_SOLD = -1,
}

export interface PurchaseResult {
  code: PurchaseCode;
  orderId: string;
  remaining: number;
  quantity: number;
}

/** The one place a purchase return code becomes a typed error; success codes map to null. */
export function purchaseError(r: PurchaseResult): AppError | null {
  switch (r.code) {
    case PurchaseCode.ACCEPTED:
    case PurchaseCode.REPLAYED:
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
    default:
      return new AppError(ErrorCode.INTERNAL, `unknown purchase code ${String(r.code)}`);
  }
}

const lua = (name: string): string => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

type Reply = [number, string | number, number, number?];
interface ScriptCommands {
  stampedePurchase(
    k1: string,
    k2: string,
    k3: string,
    k4: string,
    ...argv: (string | number)[]
  ): Promise<Reply>;
  stampedeRestore(k1: string, k2: string, k3: string, ...argv: (string | number)[]): Promise<Reply>;
  stampedePreheat(k1: string, k2: string, ...argv: (string | number)[]): Promise<Reply>;
}

/**
 * The scripts as ioredis commands: EVALSHA with a transparent EVAL fallback, so a call is one round trip.
 * Every key is passed in KEYS; nothing inside a script builds a key name.
 */
export class Scripts {
  private readonly r: Redis & ScriptCommands;

  constructor(redis: Redis) {
    const r = redis as Redis & ScriptCommands;
    if (typeof r.stampedePurchase !== 'function') {
      r.defineCommand('stampedePurchase', { numberOfKeys: 4, lua: lua('purchase') });
      r.defineCommand('stampedeRestore', { numberOfKeys: 3, lua: lua('restore') });
      r.defineCommand('stampedePreheat', { numberOfKeys: 2, lua: lua('preheat') });
    }
    this.r = r;
  }

  async purchase(
    k: ActivityKeys,
    userId: string,
    orderId: string,
    quantity: number,
    idemKey = '',
  ): Promise<PurchaseResult> {
    const [code, id, remaining, qty] = await this.r.stampedePurchase(
      k.stock,
      k.buyers,
      k.info,
      k.idem,
      userId,
      orderId,
      quantity,
      idemKey,
    );
    return { code: code as PurchaseCode, orderId: String(id), remaining, quantity: qty ?? 0 };
  }

  async restore(
    k: ActivityKeys,
    userId: string,
    orderId: string,
    channel: string,
    activity: string,
  ): Promise<{ code: RestoreCode; remaining: number }> {
    const [code, remaining] = await this.r.stampedeRestore(
      k.stock,
      k.buyers,
      k.idem,
      userId,
      orderId,
      channel,
      activity,
    );
    return { code: code as RestoreCode, remaining: Number(remaining) };
  }

  async preheat(
    k: ActivityKeys,
    argv: (string | number)[],
  ): Promise<{ code: PreheatCode; remaining: number; total: number }> {
    const [code, remaining, total] = await this.r.stampedePreheat(k.stock, k.info, ...argv);
    return { code: code as PreheatCode, remaining: Number(remaining), total: Number(total) };
  }
}
