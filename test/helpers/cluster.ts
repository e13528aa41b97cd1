// The API server as a test of the operator sees it: one namespace, the SeckillActivities in it, the
// Deployments, HPAs, Leases and Events the operator acts on.
import * as k8s from '@kubernetes/client-node';
import type { EnvTest } from '../../rehearsal/envtest.js';
import { waitFor } from './env.js';

/** The label the chart puts on the Deployments and HPAs the operator may scale. */
export const SCALABLE = 'stampede.dev/scalable';
export const GVR = { group: 'stampede.dev', version: 'v1alpha1', plural: 'seckillactivities' };

/** What Cluster.deployment puts on its pods beyond the image. */
export interface PodShape {
  nodeSelector?: Record<string, string>;
  resources?: k8s.V1ResourceRequirements;
}

export class Cluster {
  readonly objects: k8s.CustomObjectsApi;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly hpa: k8s.AutoscalingV2Api;
  readonly coordination: k8s.CoordinationV1Api;

  constructor(
    env: EnvTest,
    readonly ns: string,
  ) {
    const kc = env.kubeConfig();
    this.objects = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.hpa = kc.makeApiClient(k8s.AutoscalingV2Api);
    this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  async namespace(): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name: this.ns } } });
  }

  /**
   * A Deployment; `scalable` (default) labels it as Stampede's, as the chart labels its own. `shape` gives
   * its pods a nodeSelector and its container resources (what placeholders copy).
   */
  async deployment(name: string, replicas: number, scalable = true, shape: PodShape = {}): Promise<void> {
    const labels = { app: name };
    const container: k8s.V1Container = { name: 'app', image: 'stampede:dev' };
    if (shape.resources) container.resources = shape.resources;
    const spec: k8s.V1PodSpec = { containers: [container] };
    if (shape.nodeSelector) spec.nodeSelector = shape.nodeSelector;
    await this.apps.createNamespacedDeployment({
      namespace: this.ns,
      body: {
        metadata: { name, labels: scalable ? { [SCALABLE]: 'true' } : {} },
        spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec } },
      },
    });
  }

  create(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}) {
    return this.objects.createNamespacedCustomObject({
      ...GVR,
      namespace: this.ns,
      body: {
        apiVersion: 'stampede.dev/v1alpha1',
        kind: 'SeckillActivity',
        metadata: { name, annotations },
        spec,
      },
    });
  }

  async get(name: string): Promise<{
    metadata: { generation: number; finalizers?: string[] };
    spec: Record<string, unknown>;
    status?: Record<string, unknown> & {
      phase?: string;
      observedGeneration?: number;
      conditions?: { type: string; status: string; reason: string; observedGeneration: number }[];
      stock?: Record<string, number>;
    };
  } | null> {
    try {
      return (await this.objects.getNamespacedCustomObject({ ...GVR, namespace: this.ns, name })) as never;
    } catch {
      return null;
    }
  }

  async phase(name: string): Promise<string | undefined> {
    return (await this.get(name))?.status?.phase;
  }

  waitPhase(name: string, phase: string, timeoutMs = 20_000) {
    return waitFor(async () => (await this.phase(name)) === phase, `${name} to be ${phase}`, timeoutMs);
  }

  async hpaObject(name: string): Promise<k8s.V2HorizontalPodAutoscaler | null> {
    try {
      return await this.hpa.readNamespacedHorizontalPodAutoscaler({ namespace: this.ns, name });
    } catch {
      return null;
    }
  }

  /** An HPA as the chart ships it (labelled by Helm), for the operator to adopt. */
  async chartHpa(name: string, minReplicas: number, maxReplicas: number): Promise<void> {
    await this.hpa.createNamespacedHorizontalPodAutoscaler({
      namespace: this.ns,
      body: {
        metadata: {
          name,
          labels: {
            'app.kubernetes.io/managed-by': 'Helm',
            'helm.sh/chart': 'stampede-0.1.0',
            [SCALABLE]: 'true',
          },
        },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
          minReplicas,
          maxReplicas,
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
            },
          ],
        },
      },
    });
  }

  /** What `helm upgrade` does to bounds the chart changed: a patch of the HPA's spec. */
  async patchHpa(name: string, spec: { minReplicas?: number; maxReplicas?: number }): Promise<void> {
    await this.hpa.patchNamespacedHorizontalPodAutoscaler(
      { namespace: this.ns, name, body: { spec } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async floor(target: string): Promise<number | null> {
    try {
      return (
        (await this.hpa.readNamespacedHorizontalPodAutoscaler({ namespace: this.ns, name: target })).spec
          ?.minReplicas ?? null
      );
    } catch {
      return null;
    }
  }

  async patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.objects.patchNamespacedCustomObject(
      { ...GVR, namespace: this.ns, name, body: { spec } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /** Writes a status as an earlier operator would have (through the status subresource). */
  async writeStatus(name: string, status: Record<string, unknown>): Promise<void> {
    await this.objects.patchNamespacedCustomObjectStatus(
      { ...GVR, namespace: this.ns, name, body: { status } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async annotate(name: string, annotations: Record<string, string>): Promise<void> {
    await this.objects.patchNamespacedCustomObject(
      { ...GVR, namespace: this.ns, name, body: { metadata: { annotations } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  async remove(name: string): Promise<void> {
    await this.objects.deleteNamespacedCustomObject({ ...GVR, namespace: this.ns, name });
  }

  async events(name: string): Promise<string[]> {
    const list = await this.core.listNamespacedEvent({
      namespace: this.ns,
      fieldSelector: `involvedObject.name=${name}`,
    });
    return list.items.map((e) => `${e.reason}: ${e.message}`);
  }
}
