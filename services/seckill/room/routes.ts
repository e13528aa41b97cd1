import { randomBytes } from 'node:crypto';
import type { Express, Request } from 'express';
import type { StoredActivity } from '../../core/activity/preheat.js';
import type { TokenService } from '../../core/auth/jwt.js';
import { AppError, ErrorCode, isAppError, unavailable } from '../../core/errors.js';
import { readSmallJson } from '../../core/http/body.js';
import type { ClusterLimiter } from '../../core/rate-limit.js';
import { RateLimiter } from '../../core/rate-limit.js';
import { activityKeys } from '../../core/redis/keys.js';
import { joinError, type RoomScripts } from '../../core/redis/room-scripts.js';
import type { ActivityCache } from '../activity-cache.js';
import type { Challenges } from '../challenge.js';
import { knownActivity } from '../known-activity.js';
import type { PurchaseTokens } from '../purchase-token.js';
import { DrawCache } from './draw.js';
import type { RoomMetrics } from './metrics.js';
import type { QueueStatus } from './status.js';
import type { RoomView } from './view.js';

export interface RoomRouteDeps {
  tokens: TokenService;
  cache: ActivityCache;
  room: RoomScripts;
  view: RoomView;
  draws: DrawCache;
  prefix: string;
  purchaseTokens: PurchaseTokens;
  challenges: Challenges;
  metrics: RoomMetrics;
  /** Joins, cluster-wide per user (SECKILL_RATE_PER_USER): a join writes to Redis. */
  joinLimiter: ClusterLimiter;
  /**
   * Status polls per second in this process, per user (SECKILL_RATE_PER_USER) and, for the routes that
   * need no login, per client IP (SECKILL_RATE_PER_IP): they cost no Redis call, only CPU. 0 = no limit.
   */
  pollsPerUser: number;
  pollsPerIp: number;
}

const TICKET = /^[A-Za-z0-9_-]{22}$/;
const BODY_LIMIT_BYTES = 4096;

async function roomActivity(d: RoomRouteDeps, req: Request): Promise<StoredActivity> {
  const a = await knownActivity(d.cache, req);
  if (!a.info.waitingRoom) throw new AppError(ErrorCode.NOT_FOUND, 'this sale has no waiting room');
  return a;
}

/**
 * The waiting room's routes (docs/waiting-room.md). Joining is a write (one script call, limited
 * cluster-wide); every status answer comes from the process' RoomView, so polling costs memory reads.
 * An admitted shopper's own status carries the purchase token the sale requires, valid as long as the
 * admission: the purchase stays one script call.
 */
export function mountRoomRoutes(app: Express, d: RoomRouteDeps): void {
  const perUser = new RateLimiter(d.pollsPerUser);
  const perIp = new RateLimiter(d.pollsPerIp);
  const poll = (key: string): void => {
    const wait = key.startsWith('u:') ? perUser.take(key) : perIp.take(key);
    if (wait) throw new AppError(ErrorCode.RATE_LIMITED, 'status polled too often', { retryAfter: wait });
  };
  const withToken = (s: QueueStatus, userId: string): QueueStatus => {
    if (s.state !== 'admitted' || !s.admission) return s;
    const until = Date.parse(s.admission.expiresAt);
    return { ...s, admission: { ...s.admission, ...d.purchaseTokens.issueUntil(s.activity, userId, until) } };
  };

  app.post('/seckill/:activity/queue', async (req, res) => {
    const p = await d.tokens.verifyHeader(req.headers.authorization);
    const refused = d.joinLimiter.screen([p.userId]) ?? (await d.joinLimiter.take([p.userId]));
    if (refused) throw refused;
    const a = await roomActivity(d, req);
    const name = a.info.name;
    try {
      if (a.info.waitingRoom?.challenge === 'pow') {
        const body = (await readSmallJson(req, BODY_LIMIT_BYTES)) as { altcha?: unknown } | undefined;
        await d.challenges.redeem(body?.altcha, name, p.userId);
      }
      const ticket = randomBytes(16).toString('base64url');
      const r = await d.room.join(activityKeys(d.prefix, name), p.userId, ticket).catch((err: unknown) => {
        throw isAppError(err) ? err : unavailable('waiting room store unavailable', err);
      });
      const err = joinError(r, Date.now());
      if (err) throw err;
      d.metrics.joins.inc({ activity: name, outcome: r.code === 1 ? 'joined' : 'already' });
    } catch (err) {
      if (isAppError(err)) d.metrics.joins.inc({ activity: name, outcome: err.code.toLowerCase() });
      throw err;
    }
    const { userId, ...s } = await d.view.status(a.info, 'user', p.userId);
    res.set('Cache-Control', 'no-store').json(withToken(s, userId));
  });

  app.get('/seckill/:activity/queue/me', async (req, res) => {
    const p = await d.tokens.verifyHeader(req.headers.authorization);
    poll(`u:${p.userId}`);
    const a = await roomActivity(d, req);
    const { userId, ...s } = await d.view.status(a.info, 'user', p.userId);
    res.set('Cache-Control', 'no-store').json(withToken(s, userId));
  });

  app.get('/seckill/:activity/queue/tickets/:ticket', async (req, res) => {
    poll(`i:${req.ip ?? ''}`);
    const ticket = String(req.params.ticket ?? '');
    if (!TICKET.test(ticket)) throw new AppError(ErrorCode.VALIDATION_FAILED, 'not a ticket');
    const a = await roomActivity(d, req);
    const { userId: _user, ...s } = await d.view.status(a.info, 'ticket', ticket);
    res.set('Cache-Control', 'no-store').json(s);
  });

  app.get('/seckill/:activity/queue', async (req, res) => {
    poll(`i:${req.ip ?? ''}`);
    const a = await roomActivity(d, req);
    const { value: r, rate } = await d.view.summary(a.info.name);
    const room = a.info.waitingRoom;
    res.set('Cache-Control', 'no-store').json({
      activity: a.info.name,
      state: roomState(a, r.openedAt !== null, r.stock, Date.now()),
      opensAt: new Date(a.info.startMs - (room?.opensBeforeMs ?? 0)).toISOString(),
      startsAt: new Date(a.info.startMs).toISOString(),
      preQueue: r.preQueue,
      waiting: r.waiting,
      active: r.active,
      admitted: r.admitted,
      noShows: r.noShows,
      admitRate: rate ?? room?.admitPerSecond ?? 0,
      challenge: room?.challenge ?? 'none',
      commitment: r.commit,
      ...(r.seed ? { seed: r.seed } : {}),
    });
  });

  app.get('/seckill/:activity/queue/draw', async (req, res) => {
    poll(`i:${req.ip ?? ''}`);
    const a = await roomActivity(d, req);
    res.json(await d.draws.draw(a.info.name));
  });
}

function roomState(a: StoredActivity, opened: boolean, stock: number | null, now: number): string {
  if (now >= a.info.endMs) return 'ended';
  if (stock !== null && stock <= 0) return 'sold_out';
  if (opened) return 'open';
  return now >= a.info.startMs - (a.info.waitingRoom?.opensBeforeMs ?? 0) ? 'pre-queue' : 'closed';
}
