// Placeholder capacity through SIG Autoscaling's CapacityBuffer (issue 22, docs/capacity-buffer.md) against a
// real kube-apiserver serving Karpenter's CRD (npm run tools fetches it into .tools/crds): a sale ahead makes
// a PodTemplate and a CapacityBuffer `<target>-placeholder` for floor − current chunks, no placeholder
// Deployment; the test plays the autoscaler (the buffer's status subresource) to turn CapacityReady's
// placeholder stage; deleting the sale removes both. Without the CRD, test/operator/capacity.test.ts covers
// the Deployments; the last test here removes the CRD and sees a new operator switch back.
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, saleSpec, type Cluster, type OperatorEnv } from '../helpers/operator.js';

const BUFFER_CRD = new URL('../../.tools/crds/autoscaling.x-k8s.io_capacitybuffers.yaml', import.meta.url)
  .pathname;
const BUFFERS = { group: 'autoscaling.x-k8s.io', version: 'v1beta1', plural: 'capacitybuffers' };
const OURS = 'stampede.dev/placeholder-for';
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Buffer {
  metadata: k8s.V1ObjectMeta;
  spec: { podTemplateRef?: { name: string }; replicas?: number; provisioningStrategy?: string };
}

let oe: OperatorEnv;

beforeAll(async () => {
  oe = await operatorEnv('buffer', { crds: [BUFFER_CRD] });
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

const REQUESTS = { cpu: '250m', memory: '128Mi' };

/** A target like the chart's seckill: labelled scalable, 2 replicas, its container with requests. */
const target = (cluster: Cluster, name: string) =>
  cluster.deployment(name, 2, true, { nodeSelector: { pool: 'sale' }, resources: { requests: REQUESTS } });

const buffers = async (cluster: Cluster): Promise<Buffer[]> =>
  (
    (await cluster.objects.listNamespacedCustomObject({
      ...BUFFERS,
      namespace: cluster.ns,
      labelSelector: OURS,
    })) as { items: Buffer[] }
  ).items;
const templates = async (cluster: Cluster) =>
  (await cluster.core.listNamespacedPodTemplate({ namespace: cluster.ns, labelSelector: OURS })).items;
const deployments = async (cluster: Cluster) =>
  (await cluster.apps.listNamespacedDeployment({ namespace: cluster.ns, labelSelector: OURS })).items;

const condition = async (cluster: Cluster, name: string, type: string) =>
  (await cluster.get(name))?.status?.conditions?.find((c) => c.type === type);

/** 10 minutes ahead: in the placeholder window (capacityLead 15m), not preheated (leadTime 2s). */
const ahead = (minReplicas: number) =>
  saleSpec({
    startInMs: 600_000,
    lengthMs: 60_000,
    targets: [{ name: 'web', minReplicas, maxReplicas: minReplicas + 2 }],
  });

/** What an autoscaler writes when all chunks fit (Karpenter's Provisioning=True FitsExistingCapacity). */
async function provision(cluster: Cluster, b: Buffer, templateGeneration: number): Promise<void> {
  const now = new Date().toISOString();
  const generation = b.metadata.generation ?? 1;
  const cond = (type: string, reason: string, message: string) => ({
    type,
    status: 'True',
    reason,
    message,
    observedGeneration: generation,
    lastTransitionTime: now,
  });
  await cluster.objects.patchNamespacedCustomObjectStatus(
    {
      ...BUFFERS,
      namespace: cluster.ns,
      name: b.metadata.name ?? '',
      body: {
        status: {
          conditions: [
            cond('ReadyForProvisioning', 'Resolved', 'Pod template resolved successfully'),
            cond('Provisioning', 'FitsExistingCapacity', 'All virtual pods fit on existing capacity'),
          ],
          replicas: b.spec.replicas,
          podTemplateRef: b.spec.podTemplateRef,
          podTemplateGeneration: templateGeneration,
          provisioningStrategy: b.spec.provisioningStrategy,
        },
      },
    },
    mergePatch,
  );
}

it('holds floor − current as a CapacityBuffer of the placeholder PodTemplate; its status turns CapacityReady', async () => {
  const cluster = await oe.namespace('buffer');
  await target(cluster, 'web');
  const op = await oe.operator(cluster.ns);
  await cluster.create('sale', ahead(7));
  const [b] = await waitFor(async () => {
    const list = await buffers(cluster);
    return list[0]?.spec.replicas === 5 ? list : null;
  }, 'a buffer of 7 − 2 chunks');
  expect(b?.metadata.name).toBe('web-placeholder');
  expect(b?.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'stampede-operator', [OURS]: 'web' });
  expect(b?.spec).toEqual({
    podTemplateRef: { name: 'web-placeholder' },
    replicas: 5,
    provisioningStrategy: 'buffer.x-k8s.io/active-capacity',
  });
  const [t] = await templates(cluster);
  expect(t?.metadata?.name).toBe('web-placeholder');
  expect(t?.metadata?.labels).toEqual(b?.metadata.labels);
  const pod = t?.template?.spec;
  expect(pod?.priorityClassName).toBe('stampede-placeholder');
  expect(pod?.nodeSelector).toEqual({ pool: 'sale' });
  expect(pod?.containers[0]).toMatchObject({ image: 'stampede:dev', resources: { requests: REQUESTS } });
  expect(await deployments(cluster)).toEqual([]);
  // No autoscaler here yet: nothing is provisioned.
  await waitFor(
    async () => (await condition(cluster, 'sale', 'CapacityReady'))?.reason === 'PlaceholdersPending',
    'PlaceholdersPending',
  );
  expect((await cluster.get('sale'))?.status?.capacity).toEqual({ wanted: 5, ready: 0 });

  // The test plays the autoscaler: every chunk fits.
  await provision(cluster, b as Buffer, t?.metadata?.generation ?? 1);
  await waitFor(
    async () => ((await cluster.get('sale'))?.status?.capacity as { ready?: number })?.ready === 5,
    'the buffer counted as provisioned',
  );
  // The room is there; the sale is not preheated yet (preheat leadTime 2s of a start 10 minutes ahead).
  expect(await condition(cluster, 'sale', 'CapacityReady')).toMatchObject({
    status: 'False',
    reason: 'NotPreheated',
  });
  const metrics = await op.operator.registry.metrics();
  expect(metrics).toMatch(/stampede_placeholder_pods\{target="web",phase="Running"[^}]*\} 5/);

  // A pass that changes nothing writes nothing.
  const versions = async () => [
    (await buffers(cluster))[0]?.metadata.resourceVersion,
    (await templates(cluster))[0]?.metadata?.resourceVersion,
  ];
  const before = await versions();
  await cluster.patchSpec('sale', { stock: 5 });
  await waitFor(async () => (await cluster.get('sale'))?.status?.observedGeneration === 2, 'reconciled');
  expect(await versions()).toEqual(before);

  await cluster.remove('sale');
  await waitFor(
    async () => (await buffers(cluster)).length + (await templates(cluster)).length === 0,
    'the buffer and its PodTemplate removed',
  );
  await op.stop();
}, 60_000);

it('switching to buffers removes the placeholder Deployment an earlier pass made', async () => {
  const cluster = await oe.namespace('switch');
  await target(cluster, 'web');
  // As the Deployment mode left it (its labels are what the operator lists by).
  await cluster.apps.createNamespacedDeployment({
    namespace: cluster.ns,
    body: {
      metadata: {
        name: 'web-placeholder',
        labels: { 'app.kubernetes.io/managed-by': 'stampede-operator', [OURS]: 'web' },
      },
      spec: {
        replicas: 3,
        selector: { matchLabels: { [OURS]: 'web' } },
        template: {
          metadata: { labels: { [OURS]: 'web' } },
          spec: { containers: [{ name: 'placeholder', image: 'stampede:dev' }] },
        },
      },
    },
  });
  const op = await oe.operator(cluster.ns);
  await cluster.create('switch-sale', ahead(6));
  await waitFor(async () => (await buffers(cluster))[0]?.spec.replicas === 4, 'a buffer of 6 − 2 chunks');
  await waitFor(async () => (await deployments(cluster)).length === 0, 'the placeholder Deployment gone');
  await op.stop();
}, 60_000);

it('without the CRD a new operator keeps Deployments and removes the PodTemplate the buffer mode left', async () => {
  const cluster = await oe.namespace('gone');
  await target(cluster, 'web');
  const first = await oe.operator(cluster.ns);
  await cluster.create('gone-sale', ahead(5));
  await waitFor(async () => (await templates(cluster)).length === 1, 'the PodTemplate of the buffer mode');
  await first.stop();
  const ext = oe.env.kubeConfig().makeApiClient(k8s.ApiextensionsV1Api);
  await ext.deleteCustomResourceDefinition({ name: 'capacitybuffers.autoscaling.x-k8s.io' });
  const discovery = oe.env.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  await waitFor(
    async () =>
      discovery.getAPIResources({ group: BUFFERS.group, version: BUFFERS.version }).then(
        () => false,
        () => true,
      ),
    'the CapacityBuffer API gone',
  );
  const second = await oe.operator(cluster.ns);
  await cluster.patchSpec('gone-sale', { stock: 5 }); // a pass of the new operator
  await waitFor(
    async () => (await deployments(cluster))[0]?.spec?.replicas === 3,
    'a placeholder Deployment',
  );
  await waitFor(async () => (await templates(cluster)).length === 0, 'the PodTemplate removed');
  await second.stop();
}, 60_000);
