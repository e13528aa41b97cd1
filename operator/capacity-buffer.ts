import type * as k8s from '@kubernetes/client-node';
import type { ActivitySpec } from '../services/core/activity/spec.js';
import type { Logger } from '../services/core/log.js';
import { wanted } from './capacity.js';
import { BufferClient, type BufferApi } from './kube/buffers.js';
import { statusOf, type KubeClient } from './kube/client.js';
import {
  bufferProvisioned,
  bufferUpToDate,
  desiredBuffer,
  desiredPodTemplate,
  templateUpToDate,
  type CapacityBuffer,
} from './reconcile/capacity-buffer.js';
import { PLACEHOLDER_FOR, placeholderName, type TargetCapacity } from './reconcile/capacity.js';

/** How long a pass trusts what discovery said: a CRD installed or removed is seen within this. */
export const DETECT_TTL_MS = 60_000;

interface Detected {
  client: BufferClient;
  /** What this pass may use: discovery's answer, or forbidden after a Forbidden listing buffers. */
  api: BufferApi | null;
  /** Discovery's last answer (logged when it changes); whether a Forbidden was logged (once a process). */
  discovered: BufferApi | null;
  warned: boolean;
  at: number;
}
/** Per operator process (per KubeClient): the discovery answer and when it was asked. */
const detected = new WeakMap<KubeClient, Detected>();

function discovered(d: Detected, api: BufferApi, now: number, log?: Logger): void {
  if (api !== d.discovered && api !== 'forbidden')
    log?.info(
      { api },
      `CapacityBuffer API ${api}: placeholders are ${api === 'served' ? 'buffers' : 'Deployments'}`,
    );
  d.discovered = api;
  d.api = api;
  d.at = now;
}

/** Forbidden (RBAC) counts as no API until the next discovery; logged once, not every minute. */
function forbid(d: Detected, log: Logger | undefined, err: unknown): void {
  if (!d.warned)
    log?.warn({ err }, 'CapacityBuffers forbidden to the operator (RBAC): placeholders are Deployments');
  d.warned = true;
  d.api = 'forbidden';
}

/** The buffer client when the API server serves CapacityBuffers (asked at most every DETECT_TTL_MS). */
async function servedClient(kube: KubeClient, now: number, log?: Logger): Promise<Detected | null> {
  let d = detected.get(kube);
  if (!d) {
    d = { client: new BufferClient(kube.kc), api: null, discovered: null, warned: false, at: 0 };
    detected.set(kube, d);
  }
  if (d.api === null || now - d.at >= DETECT_TTL_MS || now < d.at) {
    const api = await d.client.api();
    if (api === 'forbidden') forbid(d, log, null);
    discovered(d, api, now, log);
  }
  return d.api === 'served' ? d : null;
}

const byTarget = <T extends { metadata?: k8s.V1ObjectMeta }>(items: T[]) =>
  new Map(items.map((o) => [o.metadata?.labels?.[PLACEHOLDER_FOR] ?? '', o]));

/**
 * The CapacityBuffer path of applyPlaceholders (docs/capacity-buffer.md): where the API server serves
 * CapacityBuffers, each target's room is a PodTemplate and a CapacityBuffer `<target>-placeholder` (the
 * autoscaler holds it: no pods of ours run), and its placeholder Deployment goes. Null when the API is not
 * there or forbidden: then the caller keeps Deployments, and the PodTemplates left from buffers go.
 */
export async function applyBuffers(
  kube: KubeClient,
  namespace: string,
  targets: string[],
  activities: ActivitySpec[],
  now: number,
  cap: number,
  log?: Logger,
): Promise<Map<string, TargetCapacity> | null> {
  const d = await servedClient(kube, now, log);
  const buffers = d ? await d.client.buffers(namespace).catch(forbidden(d, log)) : null;
  if (!d || !buffers) {
    await dropTemplates(detected.get(kube)?.client, namespace);
    return null;
  }
  const b = byTarget(buffers);
  const t = byTarget(await d.client.templates(namespace));
  const deployments = byTarget(await kube.placeholders(namespace));
  const seen = new Map<string, TargetCapacity>();
  for (const target of new Set([...targets, ...b.keys(), ...t.keys(), ...deployments.keys()])) {
    if (!target) continue;
    // The mode switched: the room is the buffer's now, the Deployment's pods go.
    if (deployments.has(target)) await kube.deletePlaceholder(namespace, placeholderName(target));
    const deployment = await kube.deployment(namespace, target);
    const scalable = deployment?.scalable === true;
    const want = scalable ? await wanted(kube, target, deployment, activities, now, cap) : 0;
    const raw = deployment?.raw as k8s.V1Deployment;
    const have = { buffer: b.get(target), template: t.get(target) };
    const provisioned = await holdRoom(d.client, raw, namespace, target, want, have);
    if (!scalable) continue;
    seen.set(target, {
      placeholders: want,
      running: provisioned,
      pending: want - provisioned,
      readyReplicas: deployment.readyReplicas,
    });
  }
  return seen;
}

/** A Forbidden listing buffers (RBAC) falls back to Deployments; anything else throws. */
const forbidden = (d: Detected, log?: Logger) => (err: unknown) => {
  if (statusOf(err) !== 403) throw err;
  forbid(d, log, err);
  return null;
};

/**
 * Brings one target's PodTemplate and CapacityBuffer to `want` chunks (both deleted at 0) and returns the
 * chunks the autoscaler says are provisioned. The template first: the buffer names it.
 */
async function holdRoom(
  client: BufferClient,
  target: k8s.V1Deployment,
  namespace: string,
  name: string,
  want: number,
  have: { buffer?: CapacityBuffer; template?: k8s.V1PodTemplate },
): Promise<number> {
  if (want === 0) {
    if (have.buffer) await client.deleteBuffer(namespace, placeholderName(name));
    if (have.template) await client.deleteTemplate(namespace, placeholderName(name));
    return 0;
  }
  const t = desiredPodTemplate(target);
  const template =
    have.template && templateUpToDate(have.template, t)
      ? have.template
      : await client.applyTemplate(t, Boolean(have.template));
  const b = desiredBuffer(target, want);
  const buffer =
    have.buffer && bufferUpToDate(have.buffer, b)
      ? have.buffer
      : await client.applyBuffer(b, Boolean(have.buffer));
  return bufferProvisioned(buffer, template, want);
}

/** Deployment mode: PodTemplates left from the buffer mode go (their buffers went with the CRD). */
async function dropTemplates(client: BufferClient | undefined, namespace: string): Promise<void> {
  if (!client) return;
  const left = await client.templates(namespace).catch((err: unknown) => {
    if (statusOf(err) === 403) return [];
    throw err;
  });
  for (const t of left) await client.deleteTemplate(namespace, t.metadata?.name ?? '');
}
