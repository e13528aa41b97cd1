import { activitySpecSchema, type ActivitySpec } from '../services/core/activity/spec.js';
import type { Logger } from '../services/core/log.js';
import type { KubeClient } from './kube/client.js';
import type { ActivityWatch } from './kube/informer.js';
import type { OperatorMetrics } from './metrics.js';
import { ALLOW_DELETE_LIVE, FINALIZER, type ActivityObject, type ActivityStatus } from './model.js';
import { applyScaling, observeStock, registerAndPreheat, removeRedisKeys, type Stores } from './observe.js';
import { boundaries, computeStatus, requeueAfter, sameStatus, type Observed } from './reconcile/status.js';

export interface ReconcilerDeps {
  kube: KubeClient;
  watch: () => ActivityWatch | null;
  stores: Stores;
  metrics: OperatorMetrics;
  log: Logger;
  liveRefreshMs: number;
  now: () => number;
}

const specOf = (a: ActivityObject): ActivitySpec | null => {
  const r = activitySpecSchema.safeParse(a.spec);
  return r.success ? r.data : null;
};

/**
 * Reconcile = read, observe, compute status (pure), act, requeue. Level-based: it never depends on which
 * event woke it, only on what the object, Redis, Postgres and the HPAs hold now.
 */
export class Reconciler {
  constructor(private readonly d: ReconcilerDeps) {}

  async reconcile(key: string): Promise<number | null> {
    const [namespace, name] = key.split('/') as [string, string];
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
    if (!spec)
      return this.writeStatus(obj, {
        phase: 'Failed',
        observedGeneration: obj.generation,
        conditions: [],
        message: 'spec does not validate',
      });
    let error: string | null = null;
    let preheat: Observed['preheat'] = null;
    let scaling: Observed['scaling'] = { ok: true, raised: false };
    let stock: Observed['stock'] = null;
    try {
      preheat = await registerAndPreheat(this.d.stores, obj.name, spec, now >= boundaries(spec).preheatAt);
      stock = await observeStock(this.d.stores, obj.name);
    } catch (err) {
      error = `stores: ${String((err as Error)?.message ?? err)}`;
    }
    try {
      scaling = await applyScaling(
        this.d.kube,
        obj.namespace,
        spec.scaling.targets.map((t) => t.name),
        this.peers(obj.namespace),
        now,
      );
    } catch (err) {
      error = `scaling: ${String((err as Error)?.message ?? err)}`;
    }
    const status = computeStatus(
      spec,
      { now, generation: obj.generation, preheat, scaling, stock, error },
      obj.status?.conditions ?? [],
    );
    await this.writeStatus(obj, status);
    if (error) throw new Error(error);
    return requeueAfter(spec, now, this.d.liveRefreshMs);
  }

  /** Specs of the namespace's activities that still count for HPA floors (not being deleted). */
  private peers(namespace: string, except?: string): ActivitySpec[] {
    return (this.d.watch()?.list() ?? [])
      .filter((a) => a.namespace === namespace && !a.deletionTimestamp && a.name !== except)
      .map(specOf)
      .filter((s): s is ActivitySpec => s !== null);
  }

  private async writeStatus(obj: ActivityObject, status: ActivityStatus): Promise<null> {
    this.d.metrics.setPhase(obj.name, status.phase);
    if (sameStatus(obj.status, status)) return null;
    await this.d.kube.patchStatus(obj, status);
    if (obj.status?.phase !== status.phase) {
      const from = obj.status?.phase ?? 'none';
      await this.d.kube
        .event(obj, 'Normal', 'PhaseChanged', `${from} → ${status.phase}`)
        .catch(() => undefined);
    }
    const was = obj.status?.conditions?.find((c) => c.type === 'Preheated')?.reason;
    const now = status.conditions.find((c) => c.type === 'Preheated');
    if (now?.reason === 'StockBelowSold' && was !== 'StockBelowSold') {
      await this.d.kube.event(obj, 'Warning', 'StockBelowSold', now.message).catch(() => undefined);
    }
    return null;
  }

  /** Deleting: a running sale needs the explicit annotation; then Redis keys go and HPA floors come back. */
  private async finalize(obj: ActivityObject): Promise<number | null> {
    if (!obj.finalizers.includes(FINALIZER)) return null;
    const spec = specOf(obj);
    const live = obj.status?.phase === 'Live' || obj.status?.phase === 'SoldOut';
    const running = live && spec !== null && this.d.now() < boundaries(spec).end;
    if (running && obj.annotations[ALLOW_DELETE_LIVE] !== 'true') {
      await this.d.kube
        .event(
          obj,
          'Warning',
          'DeleteBlocked',
          `the sale is live: annotate ${ALLOW_DELETE_LIVE}="true" to delete it now, or it goes when the sale ends`,
        )
        .catch(() => undefined);
      return 5_000;
    }
    await removeRedisKeys(this.d.stores, obj.name);
    if (spec) {
      await applyScaling(
        this.d.kube,
        obj.namespace,
        spec.scaling.targets.map((t) => t.name),
        this.peers(obj.namespace, obj.name),
        this.d.now(),
      );
    }
    await this.d.kube.setFinalizers(
      obj,
      obj.finalizers.filter((f) => f !== FINALIZER),
    );
    return null;
  }
}
