import type * as k8s from '@kubernetes/client-node';
import { desiredPlaceholder, TEMPLATE_HASH } from './capacity.js';

/** SIG Autoscaling's CapacityBuffer (docs/capacity-buffer.md): the API the operator looks for. */
export const BUFFER_GROUP = 'autoscaling.x-k8s.io';
export const BUFFER_VERSION = 'v1beta1';
export const BUFFER_PLURAL = 'capacitybuffers';
/** The default strategy, named so the buffer says what it is for: the autoscaler provisions the room. */
export const ACTIVE_CAPACITY = 'buffer.x-k8s.io/active-capacity';
/** Set by the autoscaler: True when every chunk of the buffer fits on capacity the cluster has now. */
export const PROVISIONING = 'Provisioning';

export interface BufferCondition {
  type: string;
  status: string;
  reason?: string;
  observedGeneration?: number;
}

/** The fields of a CapacityBuffer the operator writes or reads (the CRD has more: limits, percentage…). */
export interface CapacityBuffer {
  apiVersion?: string;
  kind?: string;
  metadata?: k8s.V1ObjectMeta;
  spec?: { podTemplateRef?: { name: string }; replicas?: number; provisioningStrategy?: string };
  status?: {
    conditions?: BufferCondition[];
    replicas?: number;
    podTemplateRef?: { name: string };
    podTemplateGeneration?: number;
  };
}

/**
 * The PodTemplate `<target>-placeholder`: exactly the pod template of the placeholder Deployment
 * (desiredPlaceholder), so both modes hold the same room; its name, labels and digest annotation too.
 */
export function desiredPodTemplate(target: k8s.V1Deployment): k8s.V1PodTemplate {
  const d = desiredPlaceholder(target, 0);
  return {
    apiVersion: 'v1',
    kind: 'PodTemplate',
    metadata: structuredClone(d.metadata),
    template: d.spec?.template,
  };
}

/** The CapacityBuffer `<target>-placeholder`: `replicas` chunks shaped like the target's PodTemplate. */
export function desiredBuffer(target: k8s.V1Deployment, replicas: number): CapacityBuffer {
  const meta = desiredPodTemplate(target).metadata ?? {};
  return {
    apiVersion: `${BUFFER_GROUP}/${BUFFER_VERSION}`,
    kind: 'CapacityBuffer',
    metadata: meta,
    spec: {
      podTemplateRef: { name: meta.name ?? '' },
      replicas,
      provisioningStrategy: ACTIVE_CAPACITY,
    },
  };
}

const hashOf = (m?: k8s.V1ObjectMeta) => m?.annotations?.[TEMPLATE_HASH];

/** Whether the stored PodTemplate is already the wanted one (then nothing is written). */
export const templateUpToDate = (have: k8s.V1PodTemplate, want: k8s.V1PodTemplate): boolean =>
  hashOf(have.metadata) === hashOf(want.metadata);

/** Whether the stored buffer already asks for what is wanted (then nothing is written). */
export const bufferUpToDate = (have: CapacityBuffer, want: CapacityBuffer): boolean =>
  have.spec?.replicas === want.spec?.replicas &&
  have.spec?.podTemplateRef?.name === want.spec?.podTemplateRef?.name &&
  hashOf(have.metadata) === hashOf(want.metadata);

/**
 * The chunks of a buffer the autoscaler says are there now, at most `want`. The CRD's status has no count
 * of provisioned chunks: `status.replicas` is the count the autoscaler resolved from the spec, and the
 * `Provisioning` condition is True only when all of them fit on existing capacity (Karpenter:
 * FitsExistingCapacity; False while new nodes are still needed). So: `status.replicas` when Provisioning is
 * True and current — set for this generation of the buffer, for this PodTemplate and its generation (a
 * True written before the template changed says nothing of the new shape) — else 0. `template`: the stored
 * PodTemplate as this pass left it.
 */
export function bufferProvisioned(
  buffer: CapacityBuffer,
  template: k8s.V1PodTemplate | undefined,
  want: number,
): number {
  const s = buffer.status;
  if (!template) return 0; // nothing to shape the chunks: none is there
  const c = s?.conditions?.find((x) => x.type === PROVISIONING);
  if (c?.status !== 'True') return 0;
  const generation = buffer.metadata?.generation;
  if (generation !== undefined && c.observedGeneration !== undefined && c.observedGeneration < generation)
    return 0;
  const name = buffer.spec?.podTemplateRef?.name;
  if (s?.podTemplateRef && s.podTemplateRef.name !== name) return 0;
  const tg = template.metadata?.generation;
  if (tg !== undefined && s?.podTemplateGeneration !== undefined && s.podTemplateGeneration < tg) return 0;
  return Math.max(0, Math.min(want, s?.replicas ?? 0));
}
