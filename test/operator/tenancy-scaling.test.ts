// No confused deputy for HPAs (issue 20 point 2), against a real kube-apiserver: whoever may create a
// SeckillActivity must not get the operator to scale what the chart did not mark as Stampede's, nor beyond
// the operator's OPERATOR_MAX_REPLICAS. Floors are clamped to that maximum (ScaledUp says so, with a
// Warning Event); a Deployment without the `stampede.dev/scalable: "true"` label is TargetNotManaged and
// gets no HPA; an HPA the operator did not create and nobody labelled is HpaNotManaged and left as it is.
import * as k8s from '@kubernetes/client-node';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, saleSpec, type Cluster, type OperatorEnv } from '../helpers/operator.js';

let oe: OperatorEnv;

beforeAll(async () => {
  oe = await operatorEnv('deputy');
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

const scaledUp = async (c: Cluster, name: string) =>
  (await c.get(name))?.status?.conditions?.find((x) => x.type === 'ScaledUp');
const hasEvent = (c: Cluster, name: string, reason: string) =>
  waitFor(async () => (await c.events(name)).some((e) => e.startsWith(`${reason}:`)), `a ${reason} event`);
/** A live sale asking `min`..`max` of each target. */
const asking = (targets: string[], min: number, max: number) =>
  saleSpec({
    startInMs: 1000,
    lengthMs: 600_000,
    scalingLead: '2s',
    targets: targets.map((name) => ({ name, minReplicas: min, maxReplicas: max })),
  });

it('clamps a floor to OPERATOR_MAX_REPLICAS and says so', async () => {
  const cluster = await oe.namespace('clamp', ['web']);
  await oe.operator(cluster.ns, { OPERATOR_MAX_REPLICAS: '5' });
  await cluster.create('greedy', asking(['web'], 50_000, 50_000));
  await waitFor(async () => (await scaledUp(cluster, 'greedy'))?.reason === 'FloorClamped', 'FloorClamped');
  const h = await cluster.hpaObject('web');
  expect(h?.spec).toMatchObject({ minReplicas: 5, maxReplicas: 5 });
  expect((await scaledUp(cluster, 'greedy'))?.status).toBe('True');
  await hasEvent(cluster, 'greedy', 'FloorClamped');
  // A spec within the bound is applied as asked.
  await cluster.patchSpec('greedy', {
    scaling: { targets: [{ name: 'web', minReplicas: 3, maxReplicas: 4 }] },
  });
  await waitFor(async () => (await scaledUp(cluster, 'greedy'))?.reason === 'FloorRaised', 'FloorRaised');
  expect((await cluster.hpaObject('web'))?.spec).toMatchObject({ minReplicas: 3, maxReplicas: 4 });
}, 60_000);

it('leaves a Deployment without the scalable label alone: TargetNotManaged, no HPA', async () => {
  const cluster = await oe.namespace('unlabelled', ['web']);
  await cluster.deployment('payroll', 1, false);
  await oe.operator(cluster.ns);
  await cluster.create('reach', asking(['payroll', 'web'], 4, 6));
  await waitFor(
    async () => (await scaledUp(cluster, 'reach'))?.reason === 'TargetNotManaged',
    'TargetNotManaged',
  );
  expect((await scaledUp(cluster, 'reach'))?.status).toBe('False');
  await hasEvent(cluster, 'reach', 'TargetNotManaged');
  // The labelled target still gets its floor; the other one gets nothing.
  await waitFor(async () => (await cluster.floor('web')) === 4, 'web at 4');
  expect(await cluster.hpaObject('payroll')).toBeNull();
  expect(
    (await cluster.apps.readNamespacedDeployment({ namespace: cluster.ns, name: 'payroll' })).spec?.replicas,
  ).toBe(1);
}, 60_000);

it('never adopts an HPA it did not create and nobody labelled', async () => {
  const cluster = await oe.namespace('foreign', ['web']);
  await cluster.hpa.createNamespacedHorizontalPodAutoscaler({
    namespace: cluster.ns,
    body: {
      metadata: { name: 'web', labels: { team: 'tenant' } },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 1,
        maxReplicas: 3,
      },
    },
  });
  const before = await cluster.hpaObject('web');
  await oe.operator(cluster.ns);
  await cluster.create('adopter', asking(['web'], 4, 6));
  await waitFor(
    async () => (await scaledUp(cluster, 'adopter'))?.reason === 'HpaNotManaged',
    'HpaNotManaged',
  );
  await hasEvent(cluster, 'adopter', 'HpaNotManaged');
  const after = await cluster.hpaObject('web');
  expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
  expect(after?.spec).toMatchObject({ minReplicas: 1, maxReplicas: 3 });

  // Once the chart's label is on it, it is adopted as before.
  await cluster.hpa.patchNamespacedHorizontalPodAutoscaler(
    {
      namespace: cluster.ns,
      name: 'web',
      body: { metadata: { labels: { 'stampede.dev/scalable': 'true' } } },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  await waitFor(async () => (await cluster.floor('web')) === 4, 'the labelled HPA raised');
  // The status follows the HPA write in the same pass: wait for it rather than race it.
  await waitFor(
    async () => (await scaledUp(cluster, 'adopter'))?.reason === 'FloorRaised',
    'ScaledUp=FloorRaised after the adoption',
  );
}, 60_000);
