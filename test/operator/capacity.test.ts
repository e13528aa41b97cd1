// Placeholder capacity (issue 22) against a real kube-apiserver: from start − capacityLead the operator keeps
// `<target>-placeholder` sized to what the floor will add, with the target's requests; the larger of two
// sales' needs wins; deleting a sale or restarting the operator leaves exactly what is needed; at
// start − scaling.leadTime the floor is raised and the placeholders hold the room of its pods not yet on a
// node, until the start. The API server alone schedules no pod, so CapacityReady stays False here, and the
// Warning Event says so at the floor.
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, saleSpec, type Cluster, type OperatorEnv, type Sale } from '../helpers/operator.js';

let oe: OperatorEnv;

beforeAll(async () => {
  oe = await operatorEnv('capacity');
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

const REQUESTS = { cpu: '250m', memory: '128Mi' };

/** A target like the chart's seckill: labelled scalable, its container with requests and a limit. */
const target = (cluster: Cluster, name: string, replicas = 2) =>
  cluster.deployment(name, replicas, true, {
    nodeSelector: { pool: 'sale' },
    resources: { requests: REQUESTS, limits: { memory: '256Mi' } },
  });

const placeholders = async (cluster: Cluster): Promise<k8s.V1Deployment[]> =>
  (
    await cluster.apps.listNamespacedDeployment({
      namespace: cluster.ns,
      labelSelector: 'stampede.dev/placeholder-for',
    })
  ).items;

const replicasOf = async (cluster: Cluster, name: string): Promise<number | null> => {
  const list = await placeholders(cluster);
  return list.find((d) => d.metadata?.name === name)?.spec?.replicas ?? null;
};

const sale = (s: Sale, capacityLead?: string) => {
  const spec = saleSpec(s) as { scaling: Record<string, unknown> };
  if (capacityLead) spec.scaling.capacityLead = capacityLead;
  return spec as Record<string, unknown>;
};

const condition = async (cluster: Cluster, name: string, type: string) =>
  (await cluster.get(name))?.status?.conditions?.find((c) => c.type === type);

const ahead = (minReplicas: number): Sale => ({
  startInMs: 600_000,
  lengthMs: 60_000,
  targets: [{ name: 'web', minReplicas, maxReplicas: minReplicas + 2 }],
});

it('keeps floor − current placeholder pods with the target’s requests; the larger need of two sales wins', async () => {
  const cluster = await oe.namespace('window');
  await target(cluster, 'web');
  const op = await oe.operator(cluster.ns);
  await cluster.create('first', sale(ahead(7)));
  await waitFor(async () => (await replicasOf(cluster, 'web-placeholder')) === 5, 'placeholders 7 − 2');
  const [d] = await placeholders(cluster);
  expect(d?.metadata?.labels).toEqual({
    'app.kubernetes.io/managed-by': 'stampede-operator',
    'stampede.dev/placeholder-for': 'web',
  });
  const pod = d?.spec?.template.spec;
  expect(pod?.priorityClassName).toBe('stampede-placeholder');
  expect(pod?.nodeSelector).toEqual({ pool: 'sale' });
  expect(pod?.containers[0]).toMatchObject({ image: 'stampede:dev', resources: { requests: REQUESTS } });
  // No scheduler here: the pods are not Running, and the status says how many are missing.
  await waitFor(
    async () => (await condition(cluster, 'first', 'CapacityReady'))?.reason === 'PlaceholdersPending',
    'PlaceholdersPending',
  );
  expect((await condition(cluster, 'first', 'CapacityReady'))?.status).toBe('False');
  expect((await cluster.get('first'))?.status?.capacity).toEqual({ wanted: 5, ready: 0 });

  await cluster.create('second', sale(ahead(10)));
  await waitFor(async () => (await replicasOf(cluster, 'web-placeholder')) === 8, 'the larger need, 10 − 2');
  await cluster.remove('second');
  await waitFor(
    async () => (await replicasOf(cluster, 'web-placeholder')) === 5,
    'the first sale’s need back',
  );
  await cluster.remove('first');
  await waitFor(async () => (await placeholders(cluster)).length === 0, 'the placeholder removed');
  // The HPA floor was never raised: the window of the floor had not begun.
  expect(await cluster.floor('web')).toBe(2);
  await op.stop();
}, 60_000);

it('keeps exactly one placeholder Deployment through an operator restart', async () => {
  const cluster = await oe.namespace('restart');
  await target(cluster, 'web');
  const first = await oe.operator(cluster.ns);
  await cluster.create('steady', sale(ahead(6)));
  await waitFor(async () => (await replicasOf(cluster, 'web-placeholder')) === 4, 'placeholders 6 − 2');
  const before = (await placeholders(cluster))[0]?.metadata?.uid;
  await first.stop();
  const second = await oe.operator(cluster.ns);
  await cluster.patchSpec('steady', { stock: 5 }); // a pass of the new operator
  await waitFor(async () => (await cluster.get('steady'))?.status?.observedGeneration === 2, 'reconciled');
  const after = await placeholders(cluster);
  expect(after.map((d) => [d.metadata?.name, d.spec?.replicas, d.metadata?.uid])).toEqual([
    ['web-placeholder', 4, before],
  ]);
  await second.stop();
}, 60_000);

it('holds the floor’s room from start − scaling.leadTime to the start, and warns that capacity is not ready', async () => {
  const cluster = await oe.namespace('floor');
  await target(cluster, 'web');
  const op = await oe.operator(cluster.ns);
  await cluster.create(
    'soon',
    sale(
      {
        startInMs: 9000,
        lengthMs: 60_000,
        scalingLead: '4s',
        targets: [{ name: 'web', minReplicas: 7, maxReplicas: 9 }],
      },
      '1m',
    ),
    { 'stampede.dev/allow-delete-live': 'true' },
  );
  await waitFor(
    async () => (await replicasOf(cluster, 'web-placeholder')) === 5,
    'placeholders before the floor',
  );
  await waitFor(async () => (await cluster.floor('web')) === 7, 'the floor raised', 20_000);
  // No pod is bound to a node here (no scheduler): the placeholders hold the room of all 7 floor pods,
  // until the start.
  await waitFor(
    async () => (await replicasOf(cluster, 'web-placeholder')) === 7,
    'placeholders for the floor pods not on a node',
  );
  // Nothing runs pods here: the floor's pods never become Ready.
  await waitFor(
    async () => (await condition(cluster, 'soon', 'CapacityReady'))?.reason === 'FloorPodsNotReady',
    'FloorPodsNotReady',
  );
  expect((await cluster.get('soon'))?.status?.capacity).toEqual({ wanted: 7, ready: 0 });
  const warned = await waitFor(
    async () => (await cluster.events('soon')).filter((e) => e.startsWith('CapacityNotReady:')),
    'the Event',
  );
  expect(warned.length).toBeGreaterThan(0);
  // Once, not on every pass (the operator refreshes the status every 300 ms while the sale runs).
  await new Promise((r) => setTimeout(r, 1500));
  expect((await cluster.events('soon')).filter((e) => e.startsWith('CapacityNotReady:'))).toHaveLength(1);
  await waitFor(async () => (await placeholders(cluster)).length === 0, 'the placeholders gone at the start');
  const metrics = await op.operator.registry.metrics();
  expect(metrics).toMatch(/stampede_placeholder_pods\{target="web",phase="Pending"[^}]*\} 0/);
  await op.stop();
}, 60_000);
