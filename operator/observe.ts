import type { RedisClient } from '../services/core/redis/client.js';
import { QueryTypes, type Sequelize } from 'sequelize';
import { applyActivity, NotAdoptable } from '../services/core/activity/apply.js';
import { readActivity } from '../services/core/activity/preheat.js';
import { infoFromSpec, type ActivitySpec } from '../services/core/activity/spec.js';
import { isAppError } from '../services/core/errors.js';
import { activityKeys, roomsIndexKey } from '../services/core/redis/keys.js';
import type { KubeClient } from './kube/client.js';
import { MANAGED_BY, OPERATOR, SCALABLE, type HpaView } from './model.js';
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

/**
 * Registration refused: another SeckillActivity (namespace and uid in Postgres) owns this activity id, or
 * (null) the admin made it and did not mark it adoptable.
 */
export interface NameConflict {
  conflict: Owner | null;
}

/** Who holds a registered activity id: a resource, or nobody (then `adoptable` says if one may claim it). */
export interface Claim {
  owner: Owner | null;
  adoptable: boolean;
}

/**
 * Registers the activity in Postgres as the resource's own (always) and preheats Redis (from
 * `start − preheat.leadTime` on), then reads Redis back: Preheated is only True when what Redis holds is
 * what the spec says. An activity id another resource owns is refused before anything changes.
 * `opensAt`: the opening the operator decided (docs/open-when.md), registered as the start.
 */
export async function registerAndPreheat(
  s: Stores,
  owner: Owner & { name: string },
  spec: ActivitySpec,
  preheatNow: boolean,
  opensAt?: number,
): Promise<Observed['preheat'] | NameConflict> {
  const { name } = owner;
  try {
    await applyActivity(s.db, s.redis, s.prefix, name, spec, {
      preheat: preheatNow,
      owner: { namespace: owner.namespace, uid: owner.uid },
      opensAt,
    });
  } catch (err) {
    if (isAppError(err) && err.code === 'STOCK_BELOW_SOLD')
      return { ok: false, reason: 'StockBelowSold', message: err.message };
    if (isAppError(err) && err.code === 'OWNED_BY_CLUSTER') return { conflict: err.extra?.owner as Owner };
    if (err instanceof NotAdoptable) return { conflict: null };
    throw err;
  }
  if (!preheatNow) return null;
  const back = await readActivity(s.redis, s.prefix, name);
  const want = infoFromSpec(name, spec, opensAt);
  const same = back !== null && back.remaining !== null && JSON.stringify(back.info) === JSON.stringify(want);
  return same
    ? { ok: true }
    : { ok: false, reason: 'ReadBackMismatch', message: 'Redis does not hold what was written' };
}

/** The claims Postgres records on these activity ids (absent: not registered). */
export async function claimsOf(s: Stores, names: string[]): Promise<Map<string, Claim>> {
  if (!names.length) return new Map();
  const rows = await s.db.query<{
    name: string;
    namespace: string | null;
    uid: string | null;
    adoptable: boolean;
  }>(
    `SELECT name, owner_namespace AS namespace, owner_uid AS uid, adoptable FROM seckill_activities WHERE name = ANY($1)`,
    { bind: [names], type: QueryTypes.SELECT },
  );
  return new Map(
    rows.map((r) => [
      r.name,
      {
        owner: r.uid && r.namespace ? { namespace: r.namespace, uid: r.uid } : null,
        adoptable: r.adoptable,
      },
    ]),
  );
}

/** Whether the resource `uid` may act on the activity id: unregistered, its own, or free to adopt. */
export const mayAct = (claim: Claim | undefined, uid: string): boolean =>
  !claim || (claim.owner ? claim.owner.uid === uid : claim.adoptable);

/**
 * Gives up an owner's claim (the owner is deleted): only if that owner still holds it. The id came from
 * the cluster, not the admin, so the next resource of that name may take it (adoptable).
 */
export async function releaseOwner(s: Stores, name: string, uid: string): Promise<void> {
  await s.db.query(
    `UPDATE seckill_activities SET owner_namespace = NULL, owner_uid = NULL, adoptable = true, updated_at = now()
     WHERE name = $1 AND owner_uid = $2`,
    { bind: [name, uid] },
  );
}

/**
 * The stock (Postgres's counts, Redis's remaining) and, for a sale with a room, the room's counts: one
 * Redis round trip on the activity's keys (one hash tag, so one slot in every Redis mode).
 */
export async function observeStock(
  s: Stores,
  name: string,
  withRoom = false,
): Promise<Pick<Observed, 'stock' | 'room'>> {
  const [row] = await s.db.query<{ total: number; sold: number; paid: number }>(
    `SELECT a.total_stock AS total, a.sold, (SELECT coalesce(sum(quantity), 0)::int FROM orders o WHERE o.activity_id = a.id AND o.status = 'paid') AS paid
     FROM seckill_activities a WHERE a.name = $1`,
    { bind: [name], type: QueryTypes.SELECT },
  );
  if (!row) return { stock: null, room: null };
  const k = activityKeys(s.prefix, name);
  const m = s.redis.multi().get(k.stock);
  if (withRoom) m.zcard(k.queue).zcard(k.passes).hget(k.room, 'admitted');
  const res = await m.exec();
  const value = (i: number): unknown => {
    const [err, v] = res?.[i] ?? [new Error('no reply')];
    if (err) throw err;
    return v;
  };
  const remaining = value(0) as string | null;
  return {
    stock: {
      total: row.total,
      remaining: remaining === null ? null : Number(remaining),
      sold: row.sold,
      paid: row.paid,
    },
    room: withRoom
      ? { waiting: Number(value(1)), active: Number(value(2)), admitted: Number(value(3) ?? 0) }
      : null,
  };
}

/** A target the operator could not scale as asked, and why. */
interface Problem {
  reason: 'TargetNotFound' | 'TargetNotManaged' | 'HpaNotManaged';
  target: string;
}

const MESSAGES: Record<Problem['reason'], (ns: string, names: string) => string> = {
  TargetNotFound: (ns, names) => `no Deployment ${names} in ${ns}`,
  TargetNotManaged: (ns, names) =>
    `Deployment ${names} in ${ns} is not labelled ${SCALABLE}: "true"; the operator scales only those`,
  HpaNotManaged: (ns, names) =>
    `the HPA ${names} in ${ns} was not created by the operator and is not labelled ${SCALABLE}: "true"; it is left as it is`,
};

/** An HPA is the operator's to change if the chart labelled it or the operator made it (its annotation). */
const managedHpa = (h: HpaView): boolean =>
  h.labels[SCALABLE] === 'true' || h.annotations[MANAGED_BY] === OPERATOR;

/**
 * Brings every HPA of the namespace the operator manages, and the HPA of each of `targets`, to the floor
 * the non-paused activities of the namespace need now, bounded by `cap`. Managed HPAs no activity names any
 * more (a target removed from a spec, an activity deleted) get their baseline back, and so do those whose
 * Deployment lost its scalable label. Only labelled Deployments are scaled; an HPA the operator neither
 * made nor finds labelled is never adopted. The first time a target's HPA is touched its bounds are
 * recorded as the baseline; one the operator creates starts from the Deployment's replica count (capped).
 * Only `targets` are reported (TargetNotFound, TargetNotManaged, HpaNotManaged, FloorRaised, FloorClamped).
 */
export async function applyScaling(
  kube: KubeClient,
  namespace: string,
  targets: string[],
  activities: ActivitySpec[],
  now: number,
  cap = Infinity,
): Promise<Observed['scaling']> {
  let raised = false;
  let clamped = false;
  const problems: Problem[] = [];
  const managed = new Map((await kube.managedHpas(namespace)).map((h) => [h.name, h]));
  for (const target of new Set([...targets, ...managed.keys()])) {
    const own = targets.includes(target);
    const hpa = managed.get(target) ?? (await kube.getHpa(namespace, target));
    const deployment = await kube.deployment(namespace, target);
    const problem: Problem['reason'] | null = !deployment
      ? 'TargetNotFound'
      : !deployment.scalable
        ? 'TargetNotManaged'
        : hpa && !managedHpa(hpa)
          ? 'HpaNotManaged'
          : null;
    if (problem && own) problems.push({ reason: problem, target });
    // What is left to do is giving a managed HPA its baseline back (its Deployment gone or unlabelled).
    if (problem && !(hpa && managedHpa(hpa))) continue;
    const replicas = Math.min(cap, Math.max(1, deployment?.replicas ?? 1));
    const current = hpa
      ? { minReplicas: hpa.minReplicas, maxReplicas: hpa.maxReplicas }
      : { minReplicas: replicas, maxReplicas: replicas };
    const baseline = baselineOf(hpa?.annotations ?? {}, current);
    const f = floorFor(target, problem ? [] : activities, baseline, now, cap);
    if (own) {
      raised ||= f.raised;
      clamped ||= f.clamped;
    }
    const want = desiredHpa(namespace, target, baseline, f.floor);
    if (!hpa || !hpaUpToDate(hpa, want)) await kube.applyHpa(want, hpa);
  }
  if (problems.length) return scalingProblem(namespace, problems);
  return clamped
    ? {
        ok: true,
        raised,
        clamped: `floors asked above the operator's maximum of ${cap} replicas were cut to ${cap}`,
      }
    : { ok: true, raised };
}

/** ScaledUp=False naming every target in trouble; the reason is the first one's. */
function scalingProblem(namespace: string, problems: Problem[]): Observed['scaling'] {
  const reasons = [...new Set(problems.map((p) => p.reason))];
  const message = reasons
    .map((r) =>
      MESSAGES[r](
        namespace,
        problems
          .filter((p) => p.reason === r)
          .map((p) => p.target)
          .join(', '),
      ),
    )
    .join('; ');
  return { ok: false, reason: reasons[0] ?? 'TargetNotFound', message };
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

/** Every key of the activity (its room's too), then its rooms-index entry (another slot: its own command). */
export async function removeRedisKeys(s: Stores, name: string): Promise<void> {
  const k = activityKeys(s.prefix, name);
  await s.redis.del(k.stock, k.info, k.buyers, k.idem, k.claimed, k.released, k.kept, k.tokens);
  await s.redis.del(k.room, k.queue, k.tickets, k.members, k.prequeue, k.passes, k.admits, k.roomLease);
  await s.redis.zrem(roomsIndexKey(s.prefix), name);
}
