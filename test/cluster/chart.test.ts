// The chart's objects in front of the real controllers of the rehearsal cluster: the disruption controller
// and the Eviction API enforce the PodDisruptionBudgets, the pods carry the probes and become Ready (kwok
// runs no container, so no probe is executed: docs/rehearsal.md), the NetworkPolicies select the chart's
// own pods, the HPA reads the metrics server's CPU, and a `helm upgrade` of the baseline during no sale is
// followed by the operator.
import * as k8s from '@kubernetes/client-node';
import type { RehearsalCluster } from '../../rehearsal/cluster.js';
import { helm, kubectl, CHART, REHEARSAL_VALUES } from '../../rehearsal/stack.js';
import { waitFor } from '../helpers/env.js';
import {
  applyActivity,
  hpa,
  hpaEvents,
  installStack,
  readyPods,
  saleSpec,
  startCluster,
  waitForPods,
  type Stack,
} from './rehearsal.js';

let cluster: RehearsalCluster;
let s: Stack;
let core: k8s.CoreV1Api;

beforeAll(async () => {
  cluster = await startCluster();
  s = await installStack(cluster, 'chart');
  core = cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
}, 240_000);
afterAll(async () => {
  await s?.stop().catch(() => undefined);
  await cluster?.stop();
});

const COMPONENTS = ['seckill', 'api', 'orders', 'operator'];

async function pdb(component: string): Promise<k8s.V1PodDisruptionBudget> {
  const policy = cluster.kubeConfig().makeApiClient(k8s.PolicyV1Api);
  return policy.readNamespacedPodDisruptionBudget({
    name: `${s.fullname}-${component}`,
    namespace: s.namespace,
  });
}

/** The Eviction API's answer for a pod: 201 evicted, 429 refused by a disruption budget. */
async function evict(name: string): Promise<number> {
  return core
    .createNamespacedPodEviction({
      name,
      namespace: s.namespace,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: s.namespace } },
    })
    .then(
      () => 201,
      (err: { code?: number }) => err.code ?? 0,
    );
}

it('every PodDisruptionBudget is computed by the disruption controller and enforced on eviction', async () => {
  for (const c of COMPONENTS) {
    await waitForPods(s, c, 2);
    await waitFor(async () => {
      const p = await pdb(c);
      return p.status?.observedGeneration === p.metadata?.generation && p.status?.currentHealthy === 2;
    }, `PDB ${c} observed`);
    expect((await pdb(c)).status).toMatchObject({
      expectedPods: 2,
      desiredHealthy: 1,
      disruptionsAllowed: 1,
    });
  }
  // No node takes a replacement while every node is cordoned, so the budget stays spent.
  const nodes = (await core.listNode()).items.map((n) => n.metadata?.name as string);
  for (const n of nodes) await kubectl(cluster, ['cordon', n]);
  try {
    const names = (await readyPods(s, 'seckill')).map((p) => p.metadata?.name as string);
    expect(names).toHaveLength(2);
    expect(await evict(names[0] as string)).toBe(201);
    expect(await evict(names[1] as string)).toBe(429);
  } finally {
    for (const n of nodes) await kubectl(cluster, ['uncordon', n]);
  }
  await waitForPods(s, 'seckill', 2);
  await waitFor(async () => (await pdb('seckill')).status?.disruptionsAllowed === 1, 'budget back');
}, 180_000);

it('the pods carry the chart probes and are Ready; each NetworkPolicy selects its component pods', async () => {
  const net = cluster.kubeConfig().makeApiClient(k8s.NetworkingV1Api);
  const policies = (await net.listNamespacedNetworkPolicy({ namespace: s.namespace })).items;
  const selected = async (name: string) => {
    const policy = policies.find((n) => n.metadata?.name === name);
    const selector = Object.entries(policy?.spec?.podSelector?.matchLabels ?? {}).map(
      ([k, v]) => `${k}=${v}`,
    );
    expect([name, selector.length > 0]).toEqual([name, true]);
    const list = await core.listNamespacedPod({ namespace: s.namespace, labelSelector: selector.join(',') });
    return list.items.map((p) => p.metadata?.name).sort();
  };
  for (const c of COMPONENTS) {
    const pods = await readyPods(s, c);
    expect(pods).toHaveLength(2);
    // The api's probes are on its management port, which the Ingress never targets.
    const port = c === 'api' ? 'management' : 'http';
    for (const p of pods) {
      const container = p.spec?.containers[0];
      expect(container?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port });
      expect(container?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port });
      // Only the api and seckill sign or verify tokens.
      const jwt = container?.env?.some((e) => e.name === 'JWT_SECRET');
      expect([c, jwt]).toEqual([c, c === 'api' || c === 'seckill']);
    }
    const names = pods.map((p) => p.metadata?.name).sort();
    // On by default: an ingress policy and an egress policy, each selecting exactly this component's pods.
    expect(await selected(`${s.fullname}-${c}`)).toEqual(names);
    expect(await selected(`${s.fullname}-${c}-egress`)).toEqual(names);
  }
  // The migration Job's policies exist too (its pod is gone once the hook succeeded).
  expect(policies.map((p) => p.metadata?.name)).toEqual(
    expect.arrayContaining([`${s.fullname}-migrate`, `${s.fullname}-migrate-egress`]),
  );
}, 60_000);

it('the HPA scales on the CPU the metrics server reports, and back', async () => {
  // 300m of a 250m request is 120% against a 60% target: twice the pods.
  cluster.metrics.setCpu(s.namespace, 300);
  try {
    await waitFor(
      async () => ((await hpa(s)).status?.desiredReplicas ?? 0) >= 4,
      'HPA scaled up on CPU',
      60_000,
    );
    expect((await hpa(s)).status?.currentMetrics?.[0]?.resource?.current.averageUtilization).toBe(120);
  } finally {
    cluster.metrics.setCpu(s.namespace, 0);
  }
  await waitForPods(s, 'seckill', 2);
  expect(await hpaEvents(s)).toContainEqual(
    expect.stringMatching(/^SuccessfulRescale: New size: 4; reason: cpu resource utilization/),
  );
}, 180_000);

it('a helm upgrade of the baseline during no sale is followed by the operator', async () => {
  // The operator adopts the HPA at once (baseline 2); the sale's floor comes 35 s later.
  const spec = saleSpec({
    startInMs: 60_000,
    lengthMs: 5_000,
    scalingLead: '25s',
    cooldown: '2s',
    targets: [{ name: s.seckill, minReplicas: 6, maxReplicas: 20 }],
  });
  const raise = Date.parse((spec.window as { start: string }).start) - 25_000;
  await applyActivity(s, `rehearsal-upgrade-${s.namespace}`, spec);
  const applied = async (n: string) =>
    (await hpa(s)).metadata?.annotations?.['stampede.dev/applied-min-replicas'] === n;
  await waitFor(() => applied('2'), 'HPA adopted at its baseline');

  await helm(cluster, [
    'upgrade',
    s.release,
    CHART,
    '-n',
    s.namespace,
    '-f',
    REHEARSAL_VALUES,
    '--set',
    'seckill.autoscaling.minReplicas=3',
    '--wait',
    '--timeout',
    '5m',
  ]);
  expect(Date.now()).toBeLessThan(raise);
  await waitForPods(s, 'seckill', 3);
  // The sale raises the floor over the new baseline and gives back 3, not the 2 it first recorded.
  await waitForPods(s, 'seckill', 6, 90_000);
  await waitFor(() => applied('3'), 'floor back to the new baseline', 90_000);
  await waitForPods(s, 'seckill', 3);
  const h = await hpa(s);
  expect(h.spec?.minReplicas).toBe(3);
  expect(h.metadata?.annotations).toMatchObject({ 'stampede.dev/baseline-min-replicas': '3' });
  expect(h.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
  // The operator kept the chart's behaviour each time it wrote the HPA.
  expect(h.spec?.behavior?.scaleDown?.stabilizationWindowSeconds).toBe(0);
}, 240_000);
