// Capacity before the crowd (issue 22) with the real kube-scheduler: each test gets a tainted kwok node pool
// of its own just big enough for the seckill baseline (2 pods of 250m CPU on a 600m node). Placeholders that
// find no room stay Pending (the scheduler says Insufficient cpu); a node added to the pool takes them; at
// start − scaling.leadTime the raised floor's pods preempt them and Run before the start. No cluster
// autoscaler builds here (its module is not served): the test adds the node where a real autoscaler,
// seeing the Pending placeholders, would boot one (docs/capacity.md).
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { RehearsalCluster } from '../../rehearsal/cluster.js';
import { randomUUID } from 'node:crypto';
import { activityKeys } from '../../services/core/redis/keys.js';
import { PurchaseCode, Scripts } from '../../services/core/redis/scripts.js';
import { newRedis, waitFor } from '../helpers/env.js';
import {
  applyActivity,
  componentPods,
  installStack,
  kubectlDelete,
  readyPods,
  saleSpec,
  startCluster,
  waitForPods,
  type Stack,
} from './rehearsal.js';

let cluster: RehearsalCluster;
const stacks: Stack[] = [];

beforeAll(async () => {
  cluster = await startCluster();
}, 180_000);
afterAll(async () => {
  for (const s of stacks) await s.stop().catch(() => undefined);
  await cluster?.stop();
});

const POOL = 'stampede.dev/pool';

/** A pool of its own: nodes labelled and tainted `stampede.dev/pool=<name>`, room for two seckill pods. */
async function pool(name: string, nodes: number): Promise<string[]> {
  return cluster.addNodes(nodes, {
    cpu: '600m',
    memory: '8Gi',
    labels: { [POOL]: name },
    taints: [{ key: POOL, value: name, effect: 'NoSchedule' }],
  });
}

/** The chart with its seckill pods (and so their placeholders) on the pool only. */
async function stackOn(tag: string, name: string): Promise<Stack> {
  const s = await installStack(cluster, tag, [
    '--set-json',
    `seckill.nodeSelector={"${POOL}":"${name}"}`,
    '--set-json',
    `seckill.tolerations=[{"key":"${POOL}","operator":"Equal","value":"${name}","effect":"NoSchedule"}]`,
  ]);
  stacks.push(s);
  await waitForPods(s, 'seckill', 2);
  return s;
}

const core = () => cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
const apps = () => cluster.kubeConfig().makeApiClient(k8s.AppsV1Api);

async function placeholderPods(s: Stack): Promise<k8s.V1Pod[]> {
  const labelSelector = `stampede.dev/placeholder-for=${s.seckill}`;
  const pods = await core().listNamespacedPod({ namespace: s.namespace, labelSelector });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

const phases = async (s: Stack) => (await placeholderPods(s)).map((p) => p.status?.phase).sort();

async function placeholderDeployments(s: Stack): Promise<k8s.V1Deployment[]> {
  const labelSelector = 'stampede.dev/placeholder-for';
  return (await apps().listNamespacedDeployment({ namespace: s.namespace, labelSelector })).items;
}

/** The scheduler's reason a Pending pod has no node ("0/5 nodes are available: 1 Insufficient cpu, …"). */
const unschedulable = (p: k8s.V1Pod) =>
  p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.message ?? '';

async function capacityOf(s: Stack, name: string) {
  const obj = (await cluster.kubeConfig().makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({
    group: 'stampede.dev',
    version: 'v1alpha1',
    namespace: s.namespace,
    plural: 'seckillactivities',
    name,
  })) as { status?: { capacity?: unknown; conditions?: { type: string; status: string; reason: string }[] } };
  return {
    capacity: obj.status?.capacity,
    ready: obj.status?.conditions?.find((c) => c.type === 'CapacityReady'),
  };
}

async function eventsOf(s: Stack, reason: string): Promise<k8s.CoreV1Event[]> {
  const list = await core().listNamespacedEvent({
    namespace: s.namespace,
    fieldSelector: `reason=${reason}`,
  });
  return list.items;
}

const seckillPods = (s: Stack) => componentPods(s, 'seckill');

it('placeholders wait for a node, the floor preempts them and Runs before the start', async () => {
  const name = `cap-${randomBytes(3).toString('hex')}`;
  await pool(name, 1);
  const s = await stackOn('prewarm', name);
  const start = Date.now() + 120_000;
  const spec = saleSpec({
    startInMs: 120_000,
    lengthMs: 30_000,
    preheatLead: '115s',
    scalingLead: '45s',
    targets: [{ name: s.seckill, minReplicas: 4, maxReplicas: 6 }],
  });
  (spec.scaling as Record<string, unknown>).capacityLead = '115s';
  const activity = 'prewarm-' + s.namespace;
  await applyActivity(s, activity, spec);

  // The floor will add 2 pods: 2 placeholders, and no room for them on the pool.
  const pending = await waitFor(async () => {
    const pods = await placeholderPods(s);
    return pods.length === 2 && pods.every((p) => /Insufficient cpu/.test(unschedulable(p))) ? pods : null;
  }, 'two placeholder pods Pending for Insufficient cpu');
  expect(pending.map((p) => p.spec?.priorityClassName)).toEqual([
    'stampede-placeholder',
    'stampede-placeholder',
  ]);
  await waitFor(
    async () => (await capacityOf(s, activity)).ready?.reason === 'PlaceholdersPending',
    'CapacityReady False: PlaceholdersPending',
  );

  // What a cluster autoscaler does on seeing them: a node joins the pool, and the placeholders take it.
  const [added] = await pool(name, 1);
  await waitFor(async () => (await phases(s)).join() === 'Running,Running', 'the placeholders Running');
  expect((await placeholderPods(s)).map((p) => p.spec?.nodeName)).toEqual([added, added]);
  const early = await waitFor(async () => {
    const c = await capacityOf(s, activity);
    return c.ready?.status === 'True' ? c : null;
  }, 'CapacityReady True during the lead');
  expect(early.capacity).toEqual({ wanted: 2, ready: 2 });
  expect(Date.now()).toBeLessThan(start - 45_000); // still in the placeholder stage

  // At start − scaling.leadTime the floor is 4: the new seckill pods preempt the placeholders.
  await waitForPods(s, 'seckill', 4, start - Date.now() + 30_000);
  expect(Date.now()).toBeLessThan(start);
  const preempted = await waitFor(async () => {
    const e = await eventsOf(s, 'Preempted');
    return e.length >= 2 ? e : null;
  }, 'the scheduler’s Preempted Events');
  expect(preempted.every((e) => e.involvedObject.name?.startsWith(`${s.seckill}-placeholder-`))).toBe(true);
  const onAdded = (await readyPods(s, 'seckill')).filter((p) => p.spec?.nodeName === added);
  expect(onAdded).toHaveLength(2);
  await waitFor(async () => (await placeholderDeployments(s)).length === 0, 'the placeholders gone');
  // No seckill pod waits for room at the start.
  await waitFor(() => Date.now() >= start, 'the start', 150_000);
  expect((await seckillPods(s)).map((p) => p.status?.phase)).toEqual([
    'Running',
    'Running',
    'Running',
    'Running',
  ]);
  expect((await capacityOf(s, activity)).ready).toMatchObject({ status: 'True', reason: 'Ready' });
}, 300_000);

it('two overlapping sales share one set of placeholders through deletes and an operator restart', async () => {
  const name = `cap-${randomBytes(3).toString('hex')}`;
  await pool(name, 1);
  const s = await stackOn('share', name);
  // Far ahead: both in their capacity window (default capacityLead 15m), nowhere near their floors.
  const sale = (minReplicas: number) =>
    saleSpec({
      startInMs: 600_000,
      lengthMs: 60_000,
      preheatLead: '11m',
      targets: [{ name: s.seckill, minReplicas, maxReplicas: 8 }],
    });
  await applyActivity(s, 'a-' + s.namespace, sale(4));
  await applyActivity(s, 'b-' + s.namespace, sale(5));
  // The larger need (5 − 2) wins; no room on the pool for any of them.
  await waitFor(async () => (await phases(s)).join() === 'Pending,Pending,Pending', 'three Pending');
  await kubectlDelete(s, 'b-' + s.namespace);
  await waitFor(async () => (await phases(s)).join() === 'Pending,Pending', 'back to two');
  const before = (await placeholderDeployments(s)).map((d) => d.metadata?.uid);

  await s.restartOperators();
  await s.operators.leader();
  const [added] = await pool(name, 1);
  await waitFor(async () => (await phases(s)).join() === 'Running,Running', 'the two Running');
  // The new leader took the same Deployment over: one set, on the new node, nothing made twice.
  expect((await placeholderDeployments(s)).map((d) => d.metadata?.uid)).toEqual(before);
  expect((await placeholderPods(s)).map((p) => p.spec?.nodeName)).toEqual([added, added]);
  const a = await waitFor(async () => {
    const c = await capacityOf(s, 'a-' + s.namespace);
    return c.ready?.status === 'True' ? c : null;
  }, 'CapacityReady True for the remaining sale');
  expect(a.capacity).toEqual({ wanted: 2, ready: 2 });

  await kubectlDelete(s, 'a-' + s.namespace);
  await waitFor(async () => (await placeholderDeployments(s)).length === 0, 'the Deployment deleted');
  await waitFor(async () => (await placeholderPods(s)).length === 0, 'the placeholder pods gone');
  expect((await seckillPods(s)).length).toBe(2);
}, 240_000);

/** The leader's /metrics (the operator processes run beside the cluster, each on a port of its own). */
async function leaderMetrics(s: Stack): Promise<string> {
  const leader = await s.operators.leader();
  const port = s.operators.ports[Number(leader.slice(leader.lastIndexOf('-') + 1))];
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** One purchase through the real purchase script on the stack's Redis: what a seckill pod would get. */
async function purchaseCode(s: Stack, activity: string): Promise<PurchaseCode> {
  const redis = newRedis();
  try {
    const k = activityKeys(s.prefix, activity);
    return (await new Scripts(redis).purchase(k, `u-${randomUUID()}`, randomUUID(), 1)).code;
  } finally {
    await redis.quit();
  }
}

it('without room the sale does not open on time: CapacityReady False, the Event, the metric, and openWhen holds it', async () => {
  const name = `cap-${randomBytes(3).toString('hex')}`;
  await pool(name, 1);
  const s = await stackOn('held', name);
  const start = Date.now() + 60_000;
  const spec = saleSpec({
    startInMs: 60_000,
    lengthMs: 600_000,
    preheatLead: '55s',
    scalingLead: '30s',
    targets: [{ name: s.seckill, minReplicas: 4, maxReplicas: 6 }],
  });
  Object.assign(spec, { openWhen: 'capacityReady', maxOpenDelay: '5m' });
  (spec.scaling as Record<string, unknown>).capacityLead = '55s';
  const activity = 'held-' + s.namespace;
  await applyActivity(s, activity, spec);

  // The floor's new pods find no room either, and nothing preempts for them (the placeholders are Pending).
  await waitFor(
    async () => (await capacityOf(s, activity)).ready?.reason === 'FloorPodsNotReady',
    'CapacityReady False: FloorPodsNotReady',
    90_000,
  );
  const stuck = await waitFor(async () => {
    const pods = (await seckillPods(s)).filter((p) => p.status?.phase === 'Pending');
    return pods.length === 2 && pods.every((p) => /Insufficient cpu/.test(unschedulable(p))) ? pods : null;
  }, 'two floor pods Pending for Insufficient cpu');
  expect(stuck).toHaveLength(2);
  const warned = await waitFor(async () => {
    const e = await eventsOf(s, 'CapacityNotReady');
    return e.length > 0 ? e : null;
  }, 'the CapacityNotReady Event');
  expect(warned[0]?.message).toMatch(/2 of 4 floor pods Ready/);

  // Past the start: held (the purchase script answers NOT_STARTED), and the lead metric is negative.
  await waitFor(() => Date.now() > start + 2_000, 'past the start', 90_000);
  expect((await capacityOf(s, activity)).ready?.status).toBe('False');
  expect(await purchaseCode(s, activity)).toBe(PurchaseCode.NOT_STARTED);
  const lead = await waitFor(async () => {
    const m = (await leaderMetrics(s)).match(
      new RegExp(`stampede_capacity_ready_lead_seconds\\{activity="${activity}"[^}]*\\} (\\S+)`),
    );
    return m && Number(m[1]) < 0 ? Number(m[1]) : null;
  }, 'a negative stampede_capacity_ready_lead_seconds');
  expect(lead).toBeLessThan(0);
  await waitFor(async () => (await eventsOf(s, 'OpeningHeld')).length > 0, 'the OpeningHeld Event');

  // The room arrives (a node joins): the floor's pods Run, CapacityReady turns True and the sale opens.
  await pool(name, 1);
  await waitForPods(s, 'seckill', 4, 90_000);
  await waitFor(
    async () => (await capacityOf(s, activity)).ready?.status === 'True',
    'CapacityReady True',
    60_000,
  );
  await waitFor(
    async () => (await purchaseCode(s, activity)) === PurchaseCode.ACCEPTED,
    'the purchase accepted',
    60_000,
  );
  expect(Date.now()).toBeLessThan(start + 5 * 60_000);
  const late = await waitFor(async () => {
    const e = await eventsOf(s, 'OpenedLate');
    return e.length > 0 ? e : null;
  }, 'the OpenedLate Event');
  expect(late[0]?.message).toMatch(/capacity/i);
}, 360_000);
