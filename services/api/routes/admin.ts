import { Router } from 'express';
import type { RedisClient } from '../../core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { z } from 'zod';
import { applyActivity } from '../../core/activity/apply.js';
import { activitySpecSchema } from '../../core/activity/spec.js';
import type { TokenService } from '../../core/auth/jwt.js';
import { AppError, ErrorCode } from '../../core/errors.js';
import { ACTIVITY_NAME } from '../../core/redis/keys.js';
import { authenticate, requireAdmin } from '../guard.js';
import { parse } from '../validate.js';

/**
 * `?force=true` changes an activity a SeckillActivity owns (409 OWNED_BY_CLUSTER otherwise);
 * `?adoptable=true` lets a SeckillActivity of this name take the activity over (docs/tenancy.md).
 */
const flag = z.enum(['true', 'false']).default('false');
const putQuery = z.object({ force: flag, adoptable: flag }).strict();
const verifyUsersBody = z.object({ emails: z.array(z.string().max(254)).min(1).max(1000) }).strict();

/**
 * `PUT /api/admin/activities/:activity`: a SeckillActivity spec, with the effect of `stampede apply`.
 * `POST /api/admin/users/verify {emails}`: marks those accounts' addresses verified.
 */
export function adminRoutes(db: Sequelize, redis: RedisClient, prefix: string, tokens: TokenService): Router {
  const r = Router();
  r.use(authenticate(tokens), requireAdmin);
  r.put('/activities/:activity', async (req, res) => {
    const name = String(req.params.activity);
    if (!ACTIVITY_NAME.test(name))
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'activity names are DNS-1123 names');
    const { force, adoptable } = parse(putQuery, req.query);
    const spec = parse(activitySpecSchema, req.body);
    const result = await applyActivity(db, redis, prefix, name, spec, {
      force: force === 'true',
      adoptable: adoptable === 'true',
    });
    res.status(result.created ? 201 : 200).json({
      activity: name,
      created: result.created,
      stock: { total: result.preheat?.total ?? spec.stock, remaining: result.preheat?.remaining ?? null },
    });
  });
  // An operator's hand (support, or a load test's synthetic shoppers): marks accounts verified by address.
  r.post('/users/verify', async (req, res) => {
    const { emails } = parse(verifyUsersBody, req.body);
    const rows = await db.query<{ id: string }>(
      `UPDATE users SET email_verified = true, updated_at = now()
       WHERE lower(email) = ANY($1::text[]) AND NOT email_verified RETURNING id`,
      { bind: [emails.map((e) => e.toLowerCase())], type: QueryTypes.SELECT },
    );
    res.json({ verified: rows.length });
  });
  return r;
}
