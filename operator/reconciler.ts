import { activitySpecSchema, type ActivitySpec } from '../services/core/activity/spec.js';
import type { Logger } from '../services/core/log.js';
import { inSpan, SpanKind } from '../services/core/tracing.js';
import type { KubeClient } from './kube/client.js';
import type { ActivityWatch } from './kube/informer.js';
import { applyPlaceholders } from './capacity.js';
import type { OperatorMetrics } from './metrics.js';
import { capacityObserved, type TargetCapacity } from './reconcile/capacity.js';
import { OpeningReporter, plannedOpening, settleOpening } from './opening.js';
import { prevOpensAt } from './reconcile/opening.js';
import { ALLOW_DELETE_LIVE, FINALIZER, type ActivityObject, type ActivityStatus } from './model.js';
import {
  applyScaling,
  claimsOf,
  mayAct,
  observeStock,
  registerAndPreheat,
  registeredWindow,
  releaseOwner,
  removeRedisKeys,
  type NameConflict,
  type Owner,
  type Stores,
} from './observe.js';
import { boundaries, failedStatus, requeueAfter, sameStatus, type Observed } from './reconcile/status.js';

export interface ReconcilerDeps {
  kube: KubeClient;
  watch: () => ActivityWatch | null;
  stores: Stores;
  metrics: OperatorMetrics;
  log: Logger;
  liveRefreshMs: number;
  /** OPERATOR_MAX_REPLICAS: no floor an activity asks for goes above it. */
  maxReplicas: number;
  now: () => number;
}

/** A resource refused for its name looks again this often: once the owner is deleted, the id is free. */
const CONFLICT_RETRY_MS = 30_000;
/** Condition reasons that also make a Warning Event when a condition turns to them. */
const WARNINGS: Record<string, string[]> = {
  Preheated: ['StockBelowSold'],
  Reconciled: ['NameConflict'],
  ScaledUp: ['FloorClamped', 'TargetNotManaged', 'HpaNotManaged'],
};

const specOf = (a: ActivityObject): ActivitySpec | null => {
  const r = activitySpecSchema.safeParse(a.spec);
  return r.success ? r.data : null;
};
const messageOf = (err: unknown) => String((err as Error)?.message ?? err);

/**
 * Reconcile = read, observe, compute status (pure), act, requeue. Level-based: it never depends on which
 * event woke it, only on what the object, Redis, Postgres and the HPAs hold now.
 */
export class Reconciler {
  /** CapacityNotReady Events already sent (resource, generation, window). */
  private readonly warned = new Set<string>();
  private readonly opening: OpeningReporter;

  constructor(private readonly d: ReconcilerDeps) {
    this.opening = new OpeningReporter(d.kube);
  }

  async reconcile(key: string): Promise<number | null> {
    const [namespace, name] = key.split('/') as [string, string];
    // One trace per pass (a root: no request started it), its store and API calls as children, so a slow
    // or failing reconcile shows which of them it waited on. Nothing is recorded while tracing is off.
    const attributes = { 'k8s.namespace.name': namespace, 'stampede.activity': name };
    return inSpan('reconcile SeckillActivity', () => this.timed(namespace, name), {
      kind: SpanKind.INTERNAL,
      attributes,
    });
  }

  private async timed(namespace: string, name: string): Promise<number | null> {
    const end = this.d.metrics.duration.startTimer();
    try {
      const obj = this.d.watch()?.get(namespace, name) ?? (await this.d.kube.getActivity(namespace, name));
      const again = obj ? await this.step(obj) : null;
      this.d.metrics.reconciles.inc({ result: 'success' });
      return again;
    } catch (err) {
      this.d.metrics.reconciles.inc({ result: 'error' });
      throw err;
    } finally {
      end();
    }
  }

  private async step(obj: ActivityObject): Promise<number | null> {
    if (obj.deletionTimestamp) return this.finalize(obj);
    if (!obj.finalizers.includes(FINALIZER)) {
      await this.d.kube.setFinalizers(obj, [...obj.finalizers, FINALIZER]);
      return null; // the update event brings it back
    }
    const spec = specOf(obj);
    const now = this.d.now();
    const prev = obj.status?.conditions ?? [];
    if (!spec) {
      await this.scale(obj.namespace, [], now); // floors and placeholders it held come back
      return this.writeStatus(
        obj,
        failedStatus(obj.generation, 'InvalidSpec', 'spec does not validate', now, prev),
      );
    }
    let error: string | null = null;
    let preheat: Observed['preheat'] = null;
    let scaling: Observed['scaling'] = { ok: true, raised: false };
    let capacity: Observed['capacity'] = null;
    let stock: Observed['stock'] = null;
    let room: Observed['room'] = null;
    // docs/open-when.md: registered at the opening planned; this pass's CapacityReady may move it below.
    let opening = prevOpensAt(obj.status);
    try {
      const planned = plannedOpening(spec, obj, now);
      const reg = await inSpan('postgres register, redis preheat', () =>
        this.register(obj, spec, now, planned),
      );
      if (reg && 'conflict' in reg) return await this.refuseName(obj, reg.conflict, now);
      preheat = reg;
      opening = planned;
      const withRoom = spec.waitingRoom?.enabled === true;
      ({ stock, room } = await inSpan('redis observe stock', () =>
        observeStock(this.d.stores, obj.name, withRoom),
      ));
    } catch (err) {
      error = `stores: ${messageOf(err)}`;
    }
    try {
      const targets = spec.scaling.targets.map((t) => t.name);
      let seen: Map<string, TargetCapacity>;
      ({ scaling, seen } = await inSpan('kubernetes apply scaling', () =>
        this.scale(obj.namespace, targets, now),
      ));
      capacity = capacityObserved(spec, now, seen, this.d.maxReplicas);
    } catch (err) {
      error = `scaling: ${messageOf(err)}`;
    }
    const seen = { now, generation: obj.generation, preheat, scaling, stock, room, capacity, error };
    const { observed, status } = await settleOpening(spec, obj, { ...seen, opensAt: opening }, prev, (at) =>
      this.register(obj, spec, now, at),
    );
    await this.writeStatus(obj, status);
    await this.capacityReport(obj, spec, status, now);
    await this.opening.report(obj, spec, status, now);
    if (observed.error) throw new Error(observed.error);
    return requeueAfter(spec, now, this.d.liveRefreshMs, observed.opensAt);
  }

  /**
   * Registers the activity as this resource's. Refused when another resource owns the id, unless that
   * owner is gone (deleted without its finalizer, say): then its claim is released and this one takes it.
   */
  private async register(
    obj: ActivityObject,
    spec: ActivitySpec,
    now: number,
    opensAt: number,
  ): Promise<Observed['preheat'] | NameConflict> {
    const preheatNow = now >= boundaries(spec).preheatAt;
    const first = await registerAndPreheat(this.d.stores, obj, spec, preheatNow, opensAt);
    if (!first || !('conflict' in first) || first.conflict === null) return first;
    const owner = await this.d.kube.getActivity(first.conflict.namespace, obj.name);
    if (owner && owner.uid === first.conflict.uid) return first;
    await releaseOwner(this.d.stores, obj.name, first.conflict.uid);
    return registerAndPreheat(this.d.stores, obj, spec, preheatNow, opensAt);
  }

  private async refuseName(obj: ActivityObject, owner: Owner | null, now: number): Promise<number> {
    const holder = owner
      ? `belongs to the SeckillActivity ${owner.namespace}/${obj.name}`
      : 'belongs to the admin (made through the admin API or stampede apply) and is not marked adoptable';
    const message = `the activity id ${obj.name} ${holder}; this one changes nothing`;
    const prev = obj.status?.conditions ?? [];
    // The phase metric is keyed by activity id, which is the owner's: leave it alone.
    await this.writeStatus(obj, failedStatus(obj.generation, 'NameConflict', message, now, prev), false);
    return CONFLICT_RETRY_MS;
  }

  /**
   * Floors for the namespace's managed HPAs and `targets`, from the activities that count: not being
   * deleted (`except` is), with a valid spec, and not refused for a name another resource owns.
   */
  private async scale(namespace: string, targets: string[], now: number, except?: string) {
    const objs = (this.d.watch()?.list() ?? []).filter(
      (a) => a.namespace === namespace && !a.deletionTimestamp && a.name !== except,
    );
    const claims = await claimsOf(
      this.d.stores,
      objs.map((a) => a.name),
    );
    const peers = objs
      .filter((a) => mayAct(claims.get(a.name), a.uid))
      .map(specOf)
      .filter((s): s is ActivitySpec => s !== null);
    // Placeholders first: the HPA write stays the last call before the status write, as it was.
    const seen = await applyPlaceholders(
      this.d.kube,
      namespace,
      targets,
      peers,
      now,
      this.d.maxReplicas,
      this.d.log,
    );
    const scaling = await applyScaling(this.d.kube, namespace, targets, peers, now, this.d.maxReplicas);
    for (const [target, s] of seen) {
      this.d.metrics.placeholderPods.set({ target, phase: 'Pending' }, s.pending);
      this.d.metrics.placeholderPods.set({ target, phase: 'Running' }, s.running);
    }
    return { scaling, seen };
  }

  /**
   * The capacity lead metric, and a Warning Event when the sale reaches start − scaling.leadTime (or
   * later) without CapacityReady: once per resource, generation and window in this process.
   */
  private async capacityReport(obj: ActivityObject, spec: ActivitySpec, status: ActivityStatus, now: number) {
    const b = boundaries(spec);
    const c = status.conditions.find((x) => x.type === 'CapacityReady');
    const opening = status.opensAt ? Date.parse(status.opensAt) : NaN;
    if (!Number.isNaN(opening))
      this.d.metrics.openingDelay.set({ activity: obj.name }, (opening - b.start) / 1000);
    if (c?.status === 'True')
      this.d.metrics.capacityLead.set(
        { activity: obj.name },
        (b.start - Date.parse(c.lastTransitionTime)) / 1000,
      );
    else if (now >= b.start && now < b.end)
      this.d.metrics.capacityLead.set({ activity: obj.name }, (b.start - now) / 1000);
    if (!c || c.status === 'True' || now < b.scaleAt || now >= b.end) return;
    const key = `${obj.uid}:${obj.generation}:${b.scaleAt}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    const message = `capacity not ready at ${new Date(now).toISOString()} (start ${spec.window.start}): ${c.message}`;
    await this.d.kube.event(obj, 'Warning', 'CapacityNotReady', message).catch(() => undefined);
  }

  private async writeStatus(obj: ActivityObject, status: ActivityStatus, metric = true): Promise<null> {
    if (metric) this.d.metrics.setPhase(obj.name, status.phase);
    if (sameStatus(obj.status, status)) return null;
    await inSpan('kubernetes replace status', () => this.d.kube.replaceStatus(obj, status));
    if (obj.status?.phase !== status.phase) {
      const from = obj.status?.phase ?? 'none';
      await this.d.kube
        .event(obj, 'Normal', 'PhaseChanged', `${from} → ${status.phase}`)
        .catch(() => undefined);
    }
    for (const c of status.conditions) {
      const was = obj.status?.conditions?.find((p) => p.type === c.type)?.reason;
      if (WARNINGS[c.type]?.includes(c.reason) && was !== c.reason)
        await this.d.kube.event(obj, 'Warning', c.reason, c.message).catch(() => undefined);
    }
    return null;
  }

  /**
   * Deleting. A resource whose activity id another resource or the admin holds touches nothing. Otherwise a sale whose
   * window holds now (by the clock: a status written before the operator went down may say Scheduled) needs
   * the explicit annotation; then its Redis keys go, its claim on the id is released and floors come back.
   */
  private async finalize(obj: ActivityObject): Promise<number | null> {
    if (!obj.finalizers.includes(FINALIZER)) return null;
    // An id someone else holds (another resource, the admin) keeps its keys: only its own are removed.
    const claim = (await claimsOf(this.d.stores, [obj.name])).get(obj.name);
    if (!claim || claim.owner?.uid === obj.uid) {
      const window = specOf(obj)?.window ?? (await registeredWindow(this.d.stores, obj.name));
      const now = this.d.now();
      const running = window !== null && now >= Date.parse(window.start) && now < Date.parse(window.end);
      if (running && obj.annotations[ALLOW_DELETE_LIVE] !== 'true') {
        const message = `the sale is live: annotate ${ALLOW_DELETE_LIVE}="true" to delete it now, or it goes when the sale ends`;
        await this.d.kube.event(obj, 'Warning', 'DeleteBlocked', message).catch(() => undefined);
        return 5_000;
      }
      await removeRedisKeys(this.d.stores, obj.name);
      await releaseOwner(this.d.stores, obj.name, obj.uid);
    }
    await this.scale(obj.namespace, [], this.d.now(), obj.name);
    await this.d.kube.setFinalizers(
      obj,
      obj.finalizers.filter((f) => f !== FINALIZER),
    );
    return null;
  }
}
