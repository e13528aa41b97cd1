import type { Request } from 'express';
import type { StoredActivity } from '../core/activity/preheat.js';
import { AppError, ErrorCode, isAppError, unavailable } from '../core/errors.js';
import type { ActivityCache } from './activity-cache.js';
import { checkActivityName } from './purchase-route.js';

/**
 * The `:activity` of an Express route as this process knows it (the 250 ms stock cache): 404 for a name
 * that cannot be one or an activity that does not exist, 503 when the stock store does not answer. The
 * token routes and the waiting room's routes answer these cases alike.
 */
export async function knownActivity(cache: ActivityCache, req: Request): Promise<StoredActivity> {
  const name = checkActivityName(String(req.params.activity ?? ''));
  const a = await cache.stock(name).catch((err: unknown) => {
    throw isAppError(err) ? err : unavailable('stock store unavailable', err);
  });
  if (!a) throw new AppError(ErrorCode.ACTIVITY_NOT_FOUND);
  return a;
}
