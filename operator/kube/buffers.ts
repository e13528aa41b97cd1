import * as k8s from '@kubernetes/client-node';
import { OPERATOR } from '../model.js';
import { MANAGED_BY_LABEL, PLACEHOLDER_FOR } from '../reconcile/capacity.js';
import {
  BUFFER_GROUP,
  BUFFER_PLURAL,
  BUFFER_VERSION,
  type CapacityBuffer,
} from '../reconcile/capacity-buffer.js';
import { statusOf } from './client.js';

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const GVR = { group: BUFFER_GROUP, version: BUFFER_VERSION, plural: BUFFER_PLURAL };
/** What the operator made for placeholders: its label and the target's. */
const OURS = `${MANAGED_BY_LABEL}=${OPERATOR},${PLACEHOLDER_FOR}`;

/** Whether the API server serves CapacityBuffers: yes, no, or the operator may not ask (RBAC). */
export type BufferApi = 'served' | 'absent' | 'forbidden';

const ignore404 = (err: unknown) => {
  if (statusOf(err) !== 404) throw err;
};

/**
 * The calls of the CapacityBuffer path (docs/capacity-buffer.md), and the RBAC each needs: discovery of
 * autoscaling.x-k8s.io/v1beta1 (a non-resource URL every authenticated user may read, system:discovery),
 * capacitybuffers get/list/create/patch/delete, podtemplates get/list/create/patch/delete.
 */
export class BufferClient {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;

  constructor(kc: k8s.KubeConfig) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /** Discovery of the group version: served when it lists `capacitybuffers`; 404 when the CRD is absent. */
  async api(): Promise<BufferApi> {
    try {
      const list = await this.custom.getAPIResources({ group: BUFFER_GROUP, version: BUFFER_VERSION });
      return list.resources.some((r) => r.name === BUFFER_PLURAL) ? 'served' : 'absent';
    } catch (err) {
      if (statusOf(err) === 404) return 'absent';
      if (statusOf(err) === 403) return 'forbidden';
      throw err;
    }
  }

  /** The operator's CapacityBuffers in a namespace (a 403 is thrown: the caller falls back). */
  async buffers(namespace: string): Promise<CapacityBuffer[]> {
    const list = (await this.custom.listNamespacedCustomObject({
      ...GVR,
      namespace,
      labelSelector: OURS,
    })) as { items: CapacityBuffer[] };
    return list.items;
  }

  /** Creates the buffer, or merge-patches the fields the operator owns (the status is the autoscaler's). */
  async applyBuffer(want: CapacityBuffer, exists: boolean): Promise<CapacityBuffer> {
    const namespace = want.metadata?.namespace ?? 'default';
    if (!exists)
      return (await this.custom.createNamespacedCustomObject({
        ...GVR,
        namespace,
        body: want,
      })) as CapacityBuffer;
    return (await this.custom.patchNamespacedCustomObject(
      {
        ...GVR,
        namespace,
        name: want.metadata?.name ?? '',
        body: { metadata: want.metadata, spec: want.spec },
      },
      mergePatch,
    )) as CapacityBuffer;
  }

  async deleteBuffer(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ ...GVR, namespace, name }).catch(ignore404);
  }

  /** The operator's placeholder PodTemplates in a namespace. */
  async templates(namespace: string): Promise<k8s.V1PodTemplate[]> {
    return (await this.core.listNamespacedPodTemplate({ namespace, labelSelector: OURS })).items;
  }

  /** Creates the PodTemplate or brings it to `want`; returns the stored one (its generation counts). */
  async applyTemplate(want: k8s.V1PodTemplate, exists: boolean): Promise<k8s.V1PodTemplate> {
    const namespace = want.metadata?.namespace ?? 'default';
    if (!exists) return this.core.createNamespacedPodTemplate({ namespace, body: want });
    // A merge patch: the template's lists (containers) are replaced whole, as the Deployment's are.
    return this.core.patchNamespacedPodTemplate(
      {
        namespace,
        name: want.metadata?.name ?? '',
        body: { metadata: want.metadata, template: want.template },
      },
      mergePatch,
    );
  }

  async deleteTemplate(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedPodTemplate({ namespace, name }).catch(ignore404);
  }
}
