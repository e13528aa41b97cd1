import * as k8s from '@kubernetes/client-node';
import {
  MANAGED_BY,
  OPERATOR,
  SCALABLE,
  type ActivityObject,
  type ActivityStatus,
  type DeploymentView,
  type HpaView,
} from '../model.js';
import { MANAGED_BY_LABEL, PLACEHOLDER_FOR } from '../reconcile/capacity.js';
import type { DesiredHpa } from '../reconcile/scaling.js';

const GROUP = 'stampede.dev';
const VERSION = 'v1alpha1';
const PLURAL = 'seckillactivities';
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const jsonPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

/** HTTP status of a client-node error (its `code`), 0 when it is not an API answer. */
export const statusOf = (err: unknown): number => Number((err as { code?: number })?.code ?? 0);

interface RawActivity {
  metadata: k8s.V1ObjectMeta;
  spec: unknown;
  status?: ActivityStatus;
}

export function toActivity(raw: RawActivity): ActivityObject {
  const m = raw.metadata;
  return {
    namespace: m.namespace ?? 'default',
    name: m.name ?? '',
    uid: m.uid ?? '',
    generation: m.generation ?? 0,
    resourceVersion: m.resourceVersion ?? '',
    ...(m.deletionTimestamp ? { deletionTimestamp: new Date(m.deletionTimestamp).toISOString() } : {}),
    finalizers: m.finalizers ?? [],
    annotations: m.annotations ?? {},
    spec: raw.spec,
    ...(raw.status ? { status: raw.status } : {}),
  };
}

function hpaView(h: k8s.V2HorizontalPodAutoscaler): HpaView {
  return {
    name: h.metadata?.name ?? '',
    namespace: h.metadata?.namespace ?? '',
    resourceVersion: h.metadata?.resourceVersion ?? '',
    minReplicas: h.spec?.minReplicas ?? 1,
    maxReplicas: h.spec?.maxReplicas ?? 1,
    labels: h.metadata?.labels ?? {},
    annotations: h.metadata?.annotations ?? {},
    raw: h,
  };
}

/**
 * Every Kubernetes call the operator makes, and the RBAC each needs (k8s/operator-rbac.yaml lists the union):
 * seckillactivities get/list/watch/patch, seckillactivities/status patch, seckillactivities/finalizers
 * update (finalizer patches), horizontalpodautoscalers get/list/create/update, deployments
 * get/list/create/patch/delete (targets; placeholders), pods list (placeholders), events create, leases
 * get/create/update (leader.ts).
 */
export class KubeClient {
  readonly custom: k8s.CustomObjectsApi;
  private readonly apps: k8s.AppsV1Api;
  private readonly hpa: k8s.AutoscalingV2Api;
  private readonly core: k8s.CoreV1Api;

  constructor(readonly kc: k8s.KubeConfig) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.hpa = kc.makeApiClient(k8s.AutoscalingV2Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async getActivity(namespace: string, name: string): Promise<ActivityObject | null> {
    try {
      const raw = (await this.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
      })) as RawActivity;
      return toActivity(raw);
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /**
   * Replaces the whole status through the status subresource (a JSON patch: a merge patch would keep every
   * field the new status omits), guarded by resourceVersion (a conflict requeues).
   */
  async replaceStatus(a: ActivityObject, status: ActivityStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: a.namespace,
        name: a.name,
        body: [
          { op: 'replace', path: '/metadata/resourceVersion', value: a.resourceVersion },
          { op: 'add', path: '/status', value: status },
        ],
      },
      jsonPatch,
    );
  }

  async setFinalizers(a: ActivityObject, finalizers: string[]): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: a.namespace,
        name: a.name,
        body: { metadata: { resourceVersion: a.resourceVersion, finalizers } },
      },
      mergePatch,
    );
  }

  async event(a: ActivityObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: a.namespace,
      body: {
        metadata: { generateName: `${a.name}.`, namespace: a.namespace },
        involvedObject: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'SeckillActivity',
          name: a.name,
          namespace: a.namespace,
          uid: a.uid,
        },
        type,
        reason,
        message,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component: 'stampede-operator' },
      },
    });
  }

  async deployment(namespace: string, name: string): Promise<DeploymentView | null> {
    const d = await this.deploymentObject(namespace, name);
    if (!d) return null;
    return {
      replicas: d.spec?.replicas ?? 1,
      readyReplicas: d.status?.readyReplicas ?? 0,
      scalable: d.metadata?.labels?.[SCALABLE] === 'true',
      raw: d,
    };
  }

  async deploymentObject(namespace: string, name: string): Promise<k8s.V1Deployment | null> {
    try {
      return await this.apps.readNamespacedDeployment({ namespace, name });
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /** The placeholder Deployments the operator made in a namespace (its labels mark them). */
  async placeholders(namespace: string): Promise<k8s.V1Deployment[]> {
    const labelSelector = `${MANAGED_BY_LABEL}=${OPERATOR},${PLACEHOLDER_FOR}`;
    return (await this.apps.listNamespacedDeployment({ namespace, labelSelector })).items;
  }

  /** Creates the placeholder, or brings the existing one's replicas, labels and template to `want`. */
  async applyPlaceholder(want: k8s.V1Deployment, exists: boolean): Promise<void> {
    const namespace = want.metadata?.namespace ?? 'default';
    if (!exists) {
      await this.apps.createNamespacedDeployment({ namespace, body: want });
      return;
    }
    // A merge patch: the operator owns every field it names; lists (containers) are replaced whole.
    await this.apps.patchNamespacedDeployment(
      { namespace, name: want.metadata?.name ?? '', body: { metadata: want.metadata, spec: want.spec } },
      mergePatch,
    );
  }

  async deletePlaceholder(namespace: string, name: string): Promise<void> {
    try {
      await this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: 'Background' });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /** The phases of the placeholder pods of a target (Pending, Running, …). */
  async placeholderPhases(namespace: string, target: string): Promise<string[]> {
    const labelSelector = `${PLACEHOLDER_FOR}=${target}`;
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector });
    return pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.status?.phase ?? 'Pending');
  }

  /**
   * The target's pods already bound to a node (not terminating), by its Deployment's selector. Null when
   * the selector is not plain matchLabels (the caller falls back to the replicas).
   */
  async podsOnNodes(target: k8s.V1Deployment): Promise<number | null> {
    const sel = target.spec?.selector;
    if (!sel?.matchLabels || sel.matchExpressions?.length) return null;
    const labelSelector = Object.entries(sel.matchLabels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const namespace = target.metadata?.namespace ?? 'default';
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector });
    return pods.items.filter((p) => p.spec?.nodeName && !p.metadata?.deletionTimestamp).length;
  }

  async getHpa(namespace: string, name: string): Promise<HpaView | null> {
    try {
      return hpaView(await this.hpa.readNamespacedHorizontalPodAutoscaler({ namespace, name }));
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /** The HPAs of a namespace whose floor the operator manages (its annotation marks them). */
  async managedHpas(namespace: string): Promise<HpaView[]> {
    const list = await this.hpa.listNamespacedHorizontalPodAutoscaler({ namespace });
    return list.items.map(hpaView).filter((h) => h.annotations[MANAGED_BY] === OPERATOR);
  }

  /** Creates the HPA, or updates bounds, labels, annotations and behaviour of the existing one. */
  async applyHpa(want: DesiredHpa, existing: HpaView | null): Promise<void> {
    if (!existing) {
      await this.hpa.createNamespacedHorizontalPodAutoscaler({
        namespace: want.namespace,
        body: {
          apiVersion: 'autoscaling/v2',
          kind: 'HorizontalPodAutoscaler',
          // Labelled like the chart's: it is Stampede's, and the operator's own from its first write.
          metadata: {
            name: want.name,
            namespace: want.namespace,
            labels: { [SCALABLE]: 'true' },
            annotations: want.annotations,
          },
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: want.name },
            minReplicas: want.minReplicas,
            maxReplicas: want.maxReplicas,
            behavior: want.behavior,
            metrics: [
              {
                type: 'Resource',
                resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } },
              },
            ],
          },
        },
      });
      return;
    }
    const h = existing.raw as k8s.V2HorizontalPodAutoscaler;
    // Labels stay as they are (Helm's): the operator's markers are annotations.
    h.metadata = { ...h.metadata, annotations: { ...h.metadata?.annotations, ...want.annotations } };
    h.spec = {
      ...(h.spec as k8s.V2HorizontalPodAutoscalerSpec),
      minReplicas: want.minReplicas,
      maxReplicas: want.maxReplicas,
      // An adopted HPA keeps the behaviour its owner chose (the chart's `autoscaling.behavior`): how fast a
      // floor lingers after a sale is theirs to set. Only an HPA without one gets the operator's.
      behavior: h.spec?.behavior ?? want.behavior,
    };
    await this.hpa.replaceNamespacedHorizontalPodAutoscaler({
      namespace: want.namespace,
      name: want.name,
      body: h,
    });
  }
}
