import type { RedisClient } from '../services/core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { applyActivity } from '../services/core/activity/apply.js';
import { readActivity } from '../services/core/activity/preheat.js';
import { infoFromSpec, type ActivitySpec } from '../services/core/activity/spec.js';
import { isAppError } from '../services/core/errors.js';
import { activityKeys } from '../services/core/redis/keys.js';
import type { KubeClient } from './kube/client.js';
import { baselineOf, desiredHpa, floorFor, hpaUpToDate } from './reconcile/scaling.js';
import type { Observed } from './reconcile/status.js';

export interface Stores {
  db: Sequelize;
  redis: RedisClient;
  prefix: string;
}

export interface Owner {
  namespace: string;
  uid: string;
}

/** Registration refused: another SeckillActivity (namespace and uid in Postgres) owns this activity id. */
export interface NameConflict {
  conflict: Owner;
}

/**
 * Registers the activity in Postgres as the resource's own (always) and preheats Redis (from
 * `start − preheat.leadTime` on), then reads Redis back: Preheated is only True when what Redis holds is
 * what the spec says. An activity id another resource owns is refused before anything changes.
 */
export async function registerAndPreheat(
  s: Stores,
  owner: Owner & { name: string },
  spec: ActivitySpec,
  preheatNow: boolean,
): Promise<Observed['preheat'] | NameConflict> {
  const { name } = owner;
  try {
    await applyActivity(s.db, s.redis, s.prefix, name, spec, {
      preheat: preheatNow,
      owner: { namespace: owner.namespace, uid: owner.uid },
    });
  } catch (err) {
    if (isAppError(err) && err.code === 'STOCK_BELOW_SOLD')
      return { ok: false, reason: 'StockBelowSold', message: err.message };
    if (isAppError(err) && err.code === 'OWNED_BY_CLUSTER') return { conflict: err.extra?.owner as Owner };
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

/** The owners Postgres records for these activity ids (absent: not registered; null: no owner). */
export async function ownersOf(s: Stores, names: string[]): Promise<Map<string, Owner | null>> {
  if (!names.length) return new Map();
  const rows = await s.db.query<{ name: string; namespace: string | null; uid: string | null }>(
    `SELECT name, owner_namespace AS namespace, owner_uid AS uid FROM seckill_activities WHERE name = ANY($1)`,
    { bind: [names], type: QueryTypes.SELECT },
  );
  return new Map(
    rows.map((r) => [r.name, r.uid && r.namespace ? { namespace: r.namespace, uid: r.uid } : null]),
  );
}

/** Gives up an owner's claim (the owner is deleted): only if that owner still holds it. */
export async function releaseOwner(s: Stores, name: string, uid: string): Promise<void> {
  await s.db.query(
    `UPDATE seckill_activities SET owner_namespace = NULL, owner_uid = NULL, updated_at = now()
     WHERE name = $1 AND owner_uid = $2`,
    { bind: [name, uid] },
  );
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
 * Brings every HPA of the namespace the operator manages, and the HPA of each of `targets`, to the floor
 * the non-paused activities of the namespace need now. Managed HPAs no activity names any more (a target
 * removed from a spec, an activity deleted) get their baseline back. The first time a target's HPA is
 * touched its bounds are recorded as the baseline; one created by the operator starts from the
 * Deployment's replica count. Only `targets` are reported (TargetNotFound, FloorRaised).
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
  const managed = new Map((await kube.managedHpas(namespace)).map((h) => [h.name, h]));
  for (const target of new Set([...targets, ...managed.keys()])) {
    const own = targets.includes(target);
    const hpa = managed.get(target) ?? (await kube.getHpa(namespace, target));
    const replicas = own || !hpa ? await kube.deploymentReplicas(namespace, target) : null;
    if (own && replicas === null) {
      missing.push(target);
      continue;
    }
    if (!hpa && replicas === null) continue;
    const current = hpa
      ? { minReplicas: hpa.minReplicas, maxReplicas: hpa.maxReplicas }
      : { minReplicas: Math.max(1, replicas ?? 1), maxReplicas: Math.max(1, replicas ?? 1) };
    const baseline = baselineOf(hpa?.annotations ?? {}, current);
    const f = floorFor(target, activities, baseline, now);
    if (own) raised ||= f.raised;
    const want = desiredHpa(namespace, target, baseline, f.floor);
    if (!hpa || !hpaUpToDate(hpa, want)) await kube.applyHpa(want, hpa);
  }
  if (missing.length)
    return {
      ok: false,
      reason: 'TargetNotFound',
      message: `no Deployment ${missing.join(', ')} in ${namespace}`,
    };
  return { ok: true, raised };
}

/** The window Postgres holds for an activity (for a resource whose spec no longer validates). */
export async function registeredWindow(
  s: Stores,
  name: string,
): Promise<{ start: string; end: string } | null> {
  const [row] = await s.db.query<{ start: Date; end: Date }>(
    `SELECT start_time AS start, end_time AS "end" FROM seckill_activities WHERE name = $1`,
    { bind: [name], type: QueryTypes.SELECT },
  );
  return row ? { start: row.start.toISOString(), end: row.end.toISOString() } : null;
}

export async function removeRedisKeys(s: Stores, name: string): Promise<void> {
  const k = activityKeys(s.prefix, name);
  await s.redis.del(k.stock, k.info, k.buyers, k.idem, k.claimed, k.released, k.kept);
}
