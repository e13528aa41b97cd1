// HPA floors always come back, and follow the chart (issue 12 point 6), against a real kube-apiserver: a
// target removed from a spec and a resource deleted while its spec does not validate give the floor back;
// the operator marks HPAs with annotations (Helm keeps its labels), and a bound `helm upgrade` changed while
// no sale held the floor becomes the new baseline.
import { waitFor } from '../helpers/env.js';
import {
  applyLooseCrd,
  INVALID_STOCK,
  operatorEnv,
  saleSpec,
  type OperatorEnv,
} from '../helpers/operator.js';

let oe: OperatorEnv;

beforeAll(async () => {
  oe = await operatorEnv('floor');
  await applyLooseCrd(oe.env);
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

const web = [{ name: 'web', minReplicas: 7, maxReplicas: 9 }];
const api = [{ name: 'api', minReplicas: 6, maxReplicas: 8 }];

it('gives the floor back when a running sale drops the target from its spec', async () => {
  const cluster = await oe.namespace('drop', ['web']);
  const op = await oe.operator(cluster.ns);
  await cluster.create(
    'dropper',
    saleSpec({ startInMs: 1000, lengthMs: 600_000, scalingLead: '2s', targets: web }),
  );
  await waitFor(async () => (await cluster.floor('web')) === 7, 'floor 7');
  await cluster.patchSpec('dropper', { scaling: { targets: [] } });
  await waitFor(async () => (await cluster.floor('web')) === 2, 'the baseline back');
  // The status is written after the HPA in the same pass: wait for it rather than read it at once.
  await waitFor(async () => (await cluster.phase('dropper')) === 'Live', 'still Live');
  await op.stop();
}, 60_000);

it('gives the floor back when a resource whose spec no longer validates is deleted', async () => {
  const cluster = await oe.namespace('invalid', ['web']);
  const op = await oe.operator(cluster.ns);
  await cluster.create(
    'broken',
    saleSpec({ startInMs: 1000, lengthMs: 600_000, scalingLead: '2s', targets: web }),
    { 'stampede.dev/allow-delete-live': 'true' },
  );
  await waitFor(async () => (await cluster.floor('web')) === 7, 'floor 7');
  await cluster.patchSpec('broken', { stock: INVALID_STOCK }); // the operator's schema refuses it
  await cluster.waitPhase('broken', 'Failed');
  await cluster.remove('broken');
  await waitFor(async () => (await cluster.get('broken')) === null, 'the object gone');
  await waitFor(async () => (await cluster.floor('web')) === 2, 'the baseline back');
  await op.stop();
}, 60_000);

it('adopts the chart’s HPA with annotations only: Helm keeps its labels', async () => {
  const cluster = await oe.namespace('helm', ['api']);
  await cluster.chartHpa('api', 2, 5);
  const op = await oe.operator(cluster.ns);
  await cluster.create(
    'short',
    // The floor's window is seconds long (a pass also sizes placeholders first): wide enough for a busy machine.
    saleSpec({ startInMs: 2000, lengthMs: 5000, scalingLead: '1s', cooldown: '1s', targets: api }),
  );
  await waitFor(async () => (await cluster.floor('api')) === 6, 'floor 6 for the sale');
  const raised = await cluster.hpaObject('api');
  expect(raised?.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
  expect(raised?.metadata?.annotations).toMatchObject({
    'stampede.dev/managed-by': 'stampede-operator',
    'stampede.dev/baseline-min-replicas': '2',
    'stampede.dev/applied-min-replicas': '6',
  });
  await waitFor(
    async () => (await cluster.floor('api')) === 2,
    'the chart’s baseline after the sale',
    20_000,
  );
  expect((await cluster.hpaObject('api'))?.metadata?.labels).toMatchObject({
    'app.kubernetes.io/managed-by': 'Helm',
  });
  await op.stop();
}, 60_000);

it('takes a bound helm upgrade changed while no sale held the floor as the new baseline', async () => {
  const cluster = await oe.namespace('upgrade', ['api']);
  await cluster.chartHpa('api', 2, 5);
  const op = await oe.operator(cluster.ns);
  await cluster.create('anchor', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000, targets: api }));
  await waitFor(
    async () =>
      (await cluster.hpaObject('api'))?.metadata?.annotations?.['stampede.dev/baseline-min-replicas'] === '2',
    'the chart’s HPA adopted',
  );
  await cluster.patchHpa('api', { minReplicas: 3 }); // helm upgrade with the chart's minReplicas at 3
  await cluster.patchSpec('anchor', { stock: 4 }); // any later reconcile
  await waitFor(async () => (await cluster.get('anchor'))?.status?.observedGeneration === 2, 'reconciled');
  const after = await cluster.hpaObject('api');
  expect(after?.spec?.minReplicas).toBe(3);
  expect(after?.metadata?.annotations).toMatchObject({ 'stampede.dev/baseline-min-replicas': '3' });
  // A sale raises the floor on top of the new baseline, and leaves it at the new baseline.
  await cluster.create(
    'burst',
    // The floor's window is seconds long (a pass also sizes placeholders first): wide enough for a busy machine.
    saleSpec({ startInMs: 2000, lengthMs: 5000, scalingLead: '1s', cooldown: '1s', targets: api }),
  );
  await waitFor(async () => (await cluster.floor('api')) === 6, 'floor 6 for the sale');
  await waitFor(async () => (await cluster.floor('api')) === 3, 'the new baseline after the sale', 20_000);
  await op.stop();
}, 60_000);
