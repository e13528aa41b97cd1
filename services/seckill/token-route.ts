import type { Express, Request } from 'express';
import type { Counter } from 'prom-client';
import type { StoredActivity } from '../core/activity/preheat.js';
import type { TokenService } from '../core/auth/jwt.js';
import { AppError, ErrorCode, isAppError } from '../core/errors.js';
import { readSmallJson } from '../core/http/body.js';
import type { ClusterLimiter } from '../core/rate-limit.js';
import type { ActivityCache } from './activity-cache.js';
import type { Challenges } from './challenge.js';
import { knownActivity } from './known-activity.js';
import type { PurchaseTokens } from './purchase-token.js';

export interface TokenRouteDeps {
  tokens: TokenService;
  cache: ActivityCache;
  purchaseTokens: PurchaseTokens;
  challenges: Challenges;
  tokenCounter: Counter<'activity' | 'outcome'>;
  /** SECKILL_RATE_PER_USER, cluster-wide, for this route's own requests (subject: the user). */
  limiter: ClusterLimiter;
  /** SECKILL_CHALLENGE_LEAD_SECONDS in ms: how long before the start challenges are issued. */
  challengeLeadMs: number;
  now?: () => number;
}

const BODY_LIMIT_BYTES = 4096;

function checkWindow(a: StoredActivity, now: number): void {
  if (a.info.paused) throw new AppError(ErrorCode.NOT_STARTED, 'the sale is paused');
  if (now < a.info.startMs) throw new AppError(ErrorCode.NOT_STARTED, 'tokens are issued from the start');
  if (now >= a.info.endMs) throw new AppError(ErrorCode.ENDED);
}

/**
 * `POST /seckill/:activity/token` (DESIGN §8), `GET` of the same path (is a token needed, which challenge,
 * and the server's time) and `GET /seckill/:activity/challenge` (the ALTCHA challenge a `pow` sale asks
 * for). Tokens are issued only inside the window, so nobody can hold a valid purchase before the start;
 * challenges only from `challengeLeadMs` before it (409 NOT_STARTED earlier), so the proof of work cannot
 * be banked during the countdown. An activity that needs no
 * token still issues one (clients may always ask); its purchases ignore it.
 */
export function mountTokenRoutes(app: Express, d: TokenRouteDeps): void {
  const now = d.now ?? Date.now;
  const who = async (req: Request): Promise<string> => {
    const p = await d.tokens.verifyHeader(req.headers.authorization);
    const refused = d.limiter.screen([p.userId]) ?? (await d.limiter.take([p.userId]));
    if (refused) throw refused;
    return p.userId;
  };

  app.post('/seckill/:activity/token', async (req, res) => {
    const userId = await who(req);
    const a = await knownActivity(d.cache, req);
    const name = a.info.name;
    try {
      if (a.info.waitingRoom) {
        throw new AppError(
          ErrorCode.NOT_ADMITTED,
          `this sale admits through its waiting room: POST /seckill/${name}/queue`,
        );
      }
      checkWindow(a, now());
      if (a.info.purchaseToken?.challenge === 'pow') {
        const body = (await readSmallJson(req, BODY_LIMIT_BYTES)) as { altcha?: unknown } | undefined;
        await d.challenges.redeem(body?.altcha, name, userId);
      }
    } catch (err) {
      if (isAppError(err)) d.tokenCounter.inc({ activity: name, outcome: err.code.toLowerCase() });
      throw err;
    }
    d.tokenCounter.inc({ activity: name, outcome: 'issued' });
    res.json(d.purchaseTokens.issue(name, userId));
  });

  // What a page must do before buying, and the server's clock to count down by (no auth: it is public).
  app.get('/seckill/:activity/token', async (req, res) => {
    const a = await knownActivity(d.cache, req);
    const rule = a.info.purchaseToken;
    res.set('Cache-Control', 'no-store');
    res.json({
      required: Boolean(rule),
      challenge: rule?.challenge ?? 'none',
      serverTime: now(),
    });
  });

  app.get('/seckill/:activity/challenge', async (req, res) => {
    const userId = await who(req);
    const a = await knownActivity(d.cache, req);
    const rule = challengeRule(a, d.challengeLeadMs);
    if (!rule) throw new AppError(ErrorCode.NOT_FOUND, 'this sale asks for no challenge');
    const t = now();
    if (t < rule.from) {
      const opensIn = Math.ceil((rule.from - t) / 1000);
      throw new AppError(
        ErrorCode.NOT_STARTED,
        `challenges are issued from ${new Date(rule.from).toISOString()}`,
        {
          retryAfter: opensIn,
        },
      );
    }
    if (t >= a.info.endMs) throw new AppError(ErrorCode.ENDED);
    res.set('Cache-Control', 'no-store');
    res.json(await d.challenges.create(a.info.name, userId, rule.difficulty));
  });
}

/**
 * Which proof of work the sale asks for, and from when: a waiting room's join (from the room's opening:
 * the work buys a place, not the purchase) or the purchase token's (from a short lead before the start,
 * so it cannot be banked during the countdown).
 */
function challengeRule(a: StoredActivity, leadMs: number): { difficulty: number; from: number } | null {
  const room = a.info.waitingRoom;
  if (room) {
    return room.challenge === 'pow'
      ? { difficulty: room.difficulty, from: a.info.startMs - room.opensBeforeMs }
      : null;
  }
  const rule = a.info.purchaseToken;
  return rule?.challenge === 'pow' ? { difficulty: rule.difficulty, from: a.info.startMs - leadMs } : null;
}
