import type * as k8s from '@kubernetes/client-node';
import type { ActivitySpec } from '../services/core/activity/spec.js';
import type { Logger } from '../services/core/log.js';
import { applyBuffers } from './capacity-buffer.js';
import type { KubeClient } from './kube/client.js';
import type { DeploymentView } from './model.js';
import {
  desiredPlaceholder,
  PLACEHOLDER_FOR,
  placeholderName,
  inCapacityWindow,
  placeholdersFor,
  placeholderUpToDate,
  type TargetCapacity,
} from './reconcile/capacity.js';

/**
 * Brings the placeholder Deployment of each of `targets`, and of every target that has one in the
 * namespace, to the pods the non-paused activities of the namespace need now (docs/capacity.md): created
 * or patched while some need is above 0, deleted at 0. Only labelled (scalable) Deployments get
 * placeholders, like HPA floors; a target gone or unlabelled loses its own. Returns what each target holds.
 * Where the API server serves CapacityBuffers, the autoscaler holds the room instead (docs/capacity-buffer.md).
 */
export async function applyPlaceholders(
  kube: KubeClient,
  namespace: string,
  targets: string[],
  activities: ActivitySpec[],
  now: number,
  cap = Infinity,
  log?: Logger,
): Promise<Map<string, TargetCapacity>> {
  const buffered = await applyBuffers(kube, namespace, targets, activities, now, cap, log);
  if (buffered) return buffered;
  const existing = new Map(
    (await kube.placeholders(namespace)).map((d) => [d.metadata?.labels?.[PLACEHOLDER_FOR] ?? '', d]),
  );
  const seen = new Map<string, TargetCapacity>();
  for (const target of new Set([...targets, ...existing.keys()])) {
    if (!target) continue;
    const deployment = await kube.deployment(namespace, target);
    const have = existing.get(target);
    const want =
      deployment?.scalable === true ? await wanted(kube, target, deployment, activities, now, cap) : 0;
    if (want === 0 && have) await kube.deletePlaceholder(namespace, placeholderName(target));
    if (want > 0 && deployment) {
      const desired = desiredPlaceholder(deployment.raw as k8s.V1Deployment, want);
      if (!have || !placeholderUpToDate(have, desired)) await kube.applyPlaceholder(desired, Boolean(have));
    }
    const phases = want > 0 || have ? await kube.placeholderPhases(namespace, target) : [];
    if (!deployment?.scalable) continue;
    seen.set(target, {
      placeholders: want,
      running: phases.filter((p) => p === 'Running').length,
      pending: phases.filter((p) => p === 'Pending').length,
      readyReplicas: deployment.readyReplicas,
    });
  }
  return seen;
}

/** The placeholders one target wants; its pods are listed only while some sale is in its capacity window. */
export async function wanted(
  kube: KubeClient,
  target: string,
  deployment: DeploymentView,
  activities: ActivitySpec[],
  now: number,
  cap: number,
): Promise<number> {
  if (!inCapacityWindow(target, activities, now)) return 0;
  const raw = deployment.raw as k8s.V1Deployment;
  const onNodes = (await kube.podsOnNodes(raw)) ?? deployment.replicas;
  return placeholdersFor(target, activities, now, { replicas: deployment.replicas, onNodes }, cap);
}
