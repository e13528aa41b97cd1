import type * as k8s from '@kubernetes/client-node';
import type { ActivitySpec } from '../../services/core/activity/spec.js';
import { OPERATOR } from '../model.js';
import { boundaries, type CapacityObserved } from './status.js';

/** Labels every placeholder Deployment and its pods carry (and nothing of the target: no Service picks them). */
export const PLACEHOLDER_FOR = 'stampede.dev/placeholder-for';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** The chart's PriorityClass below everything: any real pod preempts a placeholder. */
export const PLACEHOLDER_PRIORITY = 'stampede-placeholder';
/** Records the template the operator last wrote, so a pass that changes nothing writes nothing. */
export const TEMPLATE_HASH = 'stampede.dev/placeholder-template';

export const placeholderName = (target: string): string => `${target}-placeholder`;

/**
 * The seckill image's own idle command: the pod pulls the image the real pods need and does nothing,
 * exits at once on SIGTERM (a preempted placeholder frees its node without delay).
 */
export const IDLE_COMMAND = [
  'node',
  '-e',
  "process.on('SIGTERM',()=>process.exit(0));setInterval(()=>{},1<<30)",
];

/** What a target holds now: the replicas its Deployment asks for, and its pods already bound to a node. */
export interface TargetPods {
  replicas: number;
  onNodes: number;
}

/**
 * The placeholder pods a target wants now: the max over the non-paused activities naming it whose
 * [start − capacityLead, start) holds now of the room their floor (capped) still needs, never below 0. The
 * larger need wins, as floors do. Before start − scaling.leadTime that is what the floor will add to the
 * replicas the target asks for. From then on it is the floor's pods not yet on a node: the placeholders keep
 * the room until the raised floor's pods preempt them (the scheduler binds each real pod where a
 * placeholder was), so the room is never free for anyone else in between. From the start, none.
 */
export function placeholdersFor(
  target: string,
  activities: ActivitySpec[],
  now: number,
  pods: TargetPods,
  cap = Infinity,
): number {
  let want = 0;
  for (const spec of activities) {
    if (spec.paused) continue;
    const b = boundaries(spec);
    if (now < b.capacityAt || now >= b.start) continue;
    const have = now < b.scaleAt ? pods.replicas : pods.onNodes;
    for (const t of spec.scaling.targets)
      if (t.name === target) want = Math.max(want, Math.min(t.minReplicas, cap) - have);
  }
  return want;
}

/** Whether any non-paused activity naming the target is in [start − capacityLead, start) now. */
export function inCapacityWindow(target: string, activities: ActivitySpec[], now: number): boolean {
  return activities.some((spec) => {
    if (spec.paused || !spec.scaling.targets.some((t) => t.name === target)) return false;
    const b = boundaries(spec);
    return now >= b.capacityAt && now < b.start;
  });
}

/** What a placeholder pod requests and where it may run: the target's, so it holds a real pod's room. */
function podSpecOf(target: k8s.V1Deployment): k8s.V1PodSpec {
  const pod = target.spec?.template.spec;
  const first = pod?.containers[0];
  const resources: k8s.V1ResourceRequirements = {};
  if (first?.resources?.requests) resources.requests = { ...first.resources.requests };
  if (first?.resources?.limits) resources.limits = { ...first.resources.limits };
  return {
    priorityClassName: PLACEHOLDER_PRIORITY,
    terminationGracePeriodSeconds: 0,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    ...(pod?.nodeSelector ? { nodeSelector: { ...pod.nodeSelector } } : {}),
    ...(pod?.tolerations ? { tolerations: pod.tolerations.map((t) => ({ ...t })) } : {}),
    ...(pod?.affinity ? { affinity: structuredClone(pod.affinity) } : {}),
    containers: [
      {
        name: 'placeholder',
        image: first?.image ?? '',
        ...(first?.imagePullPolicy ? { imagePullPolicy: first.imagePullPolicy } : {}),
        command: IDLE_COMMAND,
        resources,
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          // The image's user (docker/Dockerfile); the target's own, when it names one.
          runAsUser: first?.securityContext?.runAsUser ?? pod?.securityContext?.runAsUser ?? 10001,
          runAsGroup: first?.securityContext?.runAsGroup ?? pod?.securityContext?.runAsGroup ?? 10001,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
  };
}

/** A short, stable digest of the template (FNV-1a): equal templates, equal digests. */
function digest(v: unknown): string {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(v)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * The placeholder Deployment for a target: `<target>-placeholder` in its namespace, `replicas` idle pods
 * of the target's image, requests, limits and placement at the placeholder PriorityClass.
 */
export function desiredPlaceholder(target: k8s.V1Deployment, replicas: number): k8s.V1Deployment {
  const name = target.metadata?.name ?? '';
  const labels = { [MANAGED_BY_LABEL]: OPERATOR, [PLACEHOLDER_FOR]: name };
  const template: k8s.V1PodTemplateSpec = { metadata: { labels: { ...labels } }, spec: podSpecOf(target) };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: placeholderName(name),
      namespace: target.metadata?.namespace ?? 'default',
      labels,
      annotations: { [TEMPLATE_HASH]: digest(template) },
    },
    spec: {
      replicas,
      selector: { matchLabels: { [PLACEHOLDER_FOR]: name } },
      // A placeholder is room, not service: replace at once, no surge of extra room.
      strategy: { type: 'Recreate' },
      template,
    },
  };
}

/** Whether an existing placeholder is already what is wanted (then nothing is written). */
export function placeholderUpToDate(have: k8s.V1Deployment, want: k8s.V1Deployment): boolean {
  return (
    have.spec?.replicas === want.spec?.replicas &&
    have.metadata?.annotations?.[TEMPLATE_HASH] === want.metadata?.annotations?.[TEMPLATE_HASH]
  );
}

/** What a pass saw of one target: the placeholders it keeps, their pods, and the target's Ready pods. */
export interface TargetCapacity {
  placeholders: number;
  running: number;
  pending: number;
  readyReplicas: number;
}

/**
 * An activity's capacity from what its targets hold now (targets not seen, missing or not scalable count
 * nothing: ScaledUp says why). Placeholder stage: the placeholders wanted and those Running; floor stage:
 * the floor's pods (capped) and those Ready. Null outside [start − capacityLead, end).
 */
export function capacityObserved(
  spec: ActivitySpec,
  now: number,
  seen: Map<string, TargetCapacity>,
  cap = Infinity,
): CapacityObserved | null {
  const b = boundaries(spec);
  if (now < b.capacityAt || now >= b.end) return null;
  const stage = now < b.scaleAt ? 'placeholders' : 'floor';
  let wanted = 0;
  let ready = 0;
  for (const t of spec.scaling.targets) {
    const s = seen.get(t.name);
    if (!s) continue;
    const want = stage === 'placeholders' ? s.placeholders : Math.min(t.minReplicas, cap);
    wanted += want;
    ready += Math.min(want, stage === 'placeholders' ? s.running : s.readyReplicas);
  }
  return { stage, wanted, ready };
}
