import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode } from '../core/errors.js';
import { readSmallJson } from '../core/http/body.js';
import { answerError, sendJson } from '../core/http/problem.js';
import type { Logger } from '../core/log.js';
import { logIds, type Context } from '../core/tracing.js';
import type { PurchaseRecorder } from '../core/metrics.js';
import { ACTIVITY_NAME } from '../core/redis/keys.js';
import type { ActivityCache } from './activity-cache.js';
import type { PurchaseService } from './purchase.js';
import type { ClusterLimiter } from '../core/rate-limit.js';
import type { PurchaseTokenArg } from '../core/redis/scripts.js';
import type { PurchaseTokens } from './purchase-token.js';

/** SECKILL_RATE_GLOBAL, _PER_IP, _PER_USER, cluster-wide; subjects in that order: '*', the IP, the user. */
export type Limits = ClusterLimiter;

export interface PurchaseRouteDeps {
  tokens: TokenService;
  purchases: PurchaseService;
  cache: ActivityCache;
  limits: Limits;
  recorder: PurchaseRecorder;
  log: Logger;
  purchaseTokens: PurchaseTokens;
  /** Counts token refusals here (`stampede_purchase_tokens_total`); issues are counted by the token route. */
  tokenRefused: (activity: string, outcome: string) => void;
}

/** One purchase request as the handler sees it: raw node objects plus what routing already knew. */
export interface HotRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The `:activity` segment, decoded, not yet validated. */
  name: string;
  id: string;
  ip: string;
  path: string;
  /** The request's trace context when it is traced (seckill/tracing.ts); absent otherwise. */
  trace?: Context;
}

const MAX_QUANTITY = 1000;
const BODY_LIMIT_BYTES = 1024;
const SOLD_OUT = new AppError(ErrorCode.SOLD_OUT);
const bodySchema = z.object({ quantity: z.number().int().min(1).max(MAX_QUANTITY).optional() }).strict();
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

const TOKEN_REQUIRED = new AppError(
  ErrorCode.TOKEN_REQUIRED,
  'this sale needs a purchase token: POST /seckill/<activity>/token, then send it as Purchase-Token',
);
const TOKEN_INVALID = new AppError(ErrorCode.TOKEN_INVALID, 'the purchase token is invalid or expired');
const TOKEN_OUTCOMES = new Set(['token_required', 'token_invalid']);

export function checkActivityName(name: string): string {
  if (!ACTIVITY_NAME.test(name)) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
  return name;
}

/** The quantity of a body that is plainly valid (none, `{}`, `{"quantity": n}`); else undefined. */
function plainQuantity(v: unknown): number | undefined {
  if (v === undefined) return 1;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length === 0) return 1;
  const q = (v as { quantity?: unknown }).quantity;
  if (keys.length !== 1 || keys[0] !== 'quantity' || typeof q !== 'number') return undefined;
  return Number.isInteger(q) && q >= 1 && q <= MAX_QUANTITY ? q : undefined;
}

async function quantityOf(req: IncomingMessage): Promise<number> {
  const body = await readSmallJson(req, BODY_LIMIT_BYTES);
  // Nearly every body is one of the plain shapes: zod runs for the rest, and writes their problem.
  const plain = plainQuantity(body);
  if (plain !== undefined) return plain;
  const parsed = bodySchema.safeParse(body ?? {});
  if (!parsed.success) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'invalid purchase body', {
      extra: { errors: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
    });
  }
  return parsed.data.quantity ?? 1;
}

function idempotencyKey(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (key === undefined) return '';
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'Idempotency-Key must be 1-128 visible ASCII characters');
  }
  return key;
}

/**
 * The purchase token as the script takes it, checked without any network call. When this process knows
 * the activity, a missing or bad token is refused here (and an activity without tokens ignores the
 * header, exactly as before tokens existed). When it does not know it yet, the script decides from the
 * activity info: "" (none sent) or "-" (sent, failed verification) is refused there if a token is needed.
 */
function tokenArg(
  d: PurchaseRouteDeps,
  h: HotRequest,
  activity: string,
  userId: string,
): PurchaseTokenArg | undefined {
  const known = d.cache.peek(activity);
  if (known && !known.info.purchaseToken) return undefined;
  const header = h.req.headers['purchase-token'];
  const keepMs = d.purchaseTokens.ttlMs + 60_000;
  if (typeof header !== 'string' || header === '') {
    if (known) throw TOKEN_REQUIRED;
    return { nonce: '', keepMs };
  }
  const nonce = d.purchaseTokens.verify(header, activity, userId);
  if (nonce === null && known) throw TOKEN_INVALID;
  return { nonce: nonce ?? '-', keepMs };
}

/** A sold-out answer from memory, limited per process only: a Redis check would cost more than it. */
const soldOutFor = (d: PurchaseRouteDeps, ip: string, userId: string): AppError =>
  d.limits.local(['*', ip, userId]) ?? SOLD_OUT;

/** The metric's outcome label of an error code, lower-cased once per code, not once per answer. */
const OUTCOMES = new Map<string, string>();
const outcomeOf = (code: string): string => {
  let o = OUTCOMES.get(code);
  if (o === undefined) OUTCOMES.set(code, (o = code.toLowerCase()));
  return o;
};

/** What the purchase needs from the request besides the principal: token, quantity, Idempotency-Key. */
async function purchaseInput(d: PurchaseRouteDeps, h: HotRequest, activity: string, userId: string) {
  const token = tokenArg(d, h, activity, userId);
  const quantity = await quantityOf(h.req);
  const key = idempotencyKey(h.req);
  return { activity, userId, quantity, idempotencyKey: key, requestId: h.id, token };
}

/**
 * `POST /seckill/:activity` on node's own request and response objects (Express' per-request cost was the
 * ceiling of the whole path): limits, token, body, then the purchase; every outcome answered and recorded
 * here, errors through the same problem+json mapping as every other route. A sold-out sale answers
 * without reading the body or touching Redis, and without a promise or a throw on the way (most of a
 * sale's answers take that path).
 */
export function purchaseHandler(d: PurchaseRouteDeps): (h: HotRequest) => Promise<void> {
  const screen = (subjects: (string | undefined)[]): void => {
    const err = d.limits.screen(subjects);
    if (err) throw err;
  };
  // What can be answered from memory before any await: a limit the cluster refused a moment ago, or a
  // sold-out sale. There the token is checked here too (from the cache, or its signature now: right
  // after a sale sells out most shoppers are seen for the first time), and a bad one answered as the
  // async path would have answered it.
  const fromMemory = (h: HotRequest, soldOut: boolean): AppError | null => {
    if (!soldOut) return d.limits.screen(['*', h.ip, undefined]);
    const who = d.tokens.verifyHeaderNow(h.req.headers.authorization);
    if (who instanceof AppError) return d.limits.screen(['*', h.ip, undefined]) ?? who;
    return d.limits.screen(['*', h.ip, who.userId]) ?? soldOutFor(d, h.ip, who.userId);
  };
  const run = async (h: HotRequest, keyed: boolean): Promise<unknown> => {
    const principal = await d.tokens.verifyHeader(h.req.headers.authorization);
    screen([undefined, undefined, principal.userId]);
    // A sold-out sale answered every unkeyed shopper from memory (fromMemory), never reading the body or
    // looking at a purchase token; a keyed one is answered so too once the script told this user SOLD_OUT
    // (no order of theirs can exist until a unit comes back, which clears the flag).
    if (keyed && d.cache.soldOutFor(h.name, principal.userId)) throw soldOutFor(d, h.ip, principal.userId);
    const activity = checkActivityName(h.name);
    // The cluster-wide check travels while the token is checked and the body read; the purchase script
    // is sent only once it said yes, so a refused request never touches the stock.
    const verdict = d.limits.take(['*', h.ip, principal.userId]);
    const input = purchaseInput(d, h, activity, principal.userId).then(
      (v) => ({ v }),
      (e: unknown) => ({ e }),
    );
    const refused = await verdict;
    if (refused) throw refused;
    const got = await input;
    if ('e' in got) throw got.e;
    return d.purchases.purchase({ ...got.v, ...(h.trace ? { trace: h.trace } : {}) });
  };
  const failed = (h: HotRequest, err: unknown): string =>
    outcomeOf(answerError(d.log, h.res, err, { reqId: h.id, path: h.path, ids: logIds(h.trace) }).code);
  const done = (h: HotRequest, started: bigint, outcome: string): void => {
    // Only known activities become label values: a scan of random names cannot add series.
    const activity = d.cache.known(h.name) ? h.name : 'unknown';
    d.recorder.record(activity, outcome, Number(process.hrtime.bigint() - started) / 1e9);
    if (TOKEN_OUTCOMES.has(outcome)) d.tokenRefused(activity, outcome);
  };
  return (h) => {
    const started = process.hrtime.bigint();
    // Sold out answers from memory at once only without an Idempotency-Key: a keyed request may be the
    // retry of an accepted purchase, whose 202 only the script can repeat (unless it told the user SOLD_OUT).
    const keyed = h.req.headers['idempotency-key'] !== undefined;
    const soldOut = !keyed && d.cache.isSoldOut(h.name);
    const early = fromMemory(h, soldOut);
    if (early) {
      done(h, started, failed(h, early));
      return Promise.resolve();
    }
    return run(h, keyed)
      .then((answer) => {
        sendJson(h.res, 202, answer);
        return 'accepted';
      })
      .then(
        (outcome) => done(h, started, outcome),
        (err: unknown) => done(h, started, failed(h, err)),
      );
  };
}
