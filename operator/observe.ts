import type { Redis } from 'ioredis';
import { QueryTypes, type Sequelize } from 'sequelize';
import { applyActivity } from '../services/core/activity/apply.js';
import { readActivity } from '../services/core/activity/preheat.js';
import { infoFromSpec, type ActivitySpec } from '../services/core/activity/spec.js';
import { isAppError } from '../services/core/errors.js';
import { activityKeys } from '../services/core/redis/keys.js';
import type { KubeClient } from './kube/client.js';
import { desiredHpa, floorFor, baselineOf } from './reconcile/scaling.js';
import type { Observed } from './reconcile/status.js';

export interface Stores {
  db: Sequelize;
  redis: Redis;
  prefix: string;
}

/**
 * Registers the activity in Postgres (always) and preheats Redis (from `start − preheat.leadTime` on), then
 * reads Redis back: Preheated is only True when what Redis holds is what the spec says.
 */
export async function registerAndPreheat(
  s: Stores,
  name: string,
  spec: ActivitySpec,
  preheatNow: boolean,
): Promise<Observed['preheat']> {
  try {
    await applyActivity(s.db, s.redis, s.prefix, name, spec, { preheat: preheatNow });
  } catch (err) {
    if (isAppError(err) && err.code === 'STOCK_BELOW_SOLD')
      return { ok: false, reason: 'StockBelowSold', message: err.message };
    throw err;
  }
  if (!preheatNow) return null;
  const back = await readActivity(s.redis, s.prefix, name);
  const want = infoFromSpec(name, spec);
  const same = back !== null && back.remaining !== null && JSON.stringify(back.info) === JSON.stringify(want);
  return same
    ? { ok: true }
    : { ok: false, reason: 'ReadBackMismatch', message: 'Redis does not hold what was written' };
}

export async function observeStock(s: Stores, name: string): Promise<Observed['stock']> {
  const [row] = await s.db.query<{ total: number; sold: number; paid: number }>(
    `SELECT a.total_stock AS total, a.sold, (SELECT coalesce(sum(quantity), 0)::int FROM orders o WHERE o.activity_id = a.id AND o.status = 'paid') AS paid
     FROM seckill_activities a WHERE a.name = $1`,
    { bind: [name], type: QueryTypes.SELECT },
  );
  if (!row) return null;
  const remaining = await s.redis.get(activityKeys(s.prefix, name).stock);
  return {
    total: row.total,
    remaining: remaining === null ? null : Number(remaining),
    sold: row.sold,
    paid: row.paid,
  };
}

/**
 * Brings the HPA of each target to the floor all non-paused activities of the namespace need now. The
 * first time a target's HPA is touched its bounds are recorded as the baseline; one created by the operator
 * starts from the Deployment's replica count.
 */
export async function applyScaling(
  kube: KubeClient,
  namespace: string,
  targets: string[],
  activities: ActivitySpec[],
  now: number,
): Promise<Observed['scaling']> {
  let raised = false;
  const missing: string[] = [];
  for (const target of targets) {
    const replicas = await kube.deploymentReplicas(namespace, target);
    if (replicas === null) {
      missing.push(target);
      continue;
    }
    const hpa = await kube.getHpa(namespace, target);
    const current = hpa
      ? { minReplicas: hpa.minReplicas, maxReplicas: hpa.maxReplicas }
      : { minReplicas: Math.max(1, replicas), maxReplicas: Math.max(1, replicas) };
    const baseline = baselineOf(hpa?.annotations ?? {}, current);
    const f = floorFor(target, activities, baseline, now);
    raised ||= f.raised;
    const want = desiredHpa(namespace, target, baseline, f.floor);
    const unchanged =
      hpa &&
      hpa.minReplicas === want.minReplicas &&
      hpa.maxReplicas === want.maxReplicas &&
      Object.entries(want.annotations).every(([k, v]) => hpa.annotations[k] === v);
    if (!unchanged) await kube.applyHpa(want, hpa);
  }
  if (missing.length)
    return {
      ok: false,
      reason: 'TargetNotFound',
      message: `no Deployment ${missing.join(', ')} in ${namespace}`,
    };
  return { ok: true, raised };
}

export async function removeRedisKeys(s: Stores, name: string): Promise<void> {
  const k = activityKeys(s.prefix, name);
  await s.redis.del(k.stock, k.info, k.buyers, k.idem, k.claimed, k.released);
}
