// spec.scaling.capacityLead and status.capacity (issue 22) against a real kube-apiserver: the default is
// filled, a lead that would bring placeholders after the floor is refused by a CEL rule with duration(), and
// the zod schema of `stampede apply` agrees on every case.
import * as k8s from '@kubernetes/client-node';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { EnvTest } from '../../rehearsal/envtest.js';

const CRD = new URL('../../k8s/crd/seckillactivities.yaml', import.meta.url).pathname;
const GVR = { group: 'stampede.dev', version: 'v1alpha1', plural: 'seckillactivities' };
let env: EnvTest;
let objects: k8s.CustomObjectsApi;
const ns = `crd-capacity-${Date.now()}`;
let n = 0;

const spec = (scaling?: Record<string, unknown>) => ({
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', price: '4999.00' },
  stock: 10,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
  ...(scaling === undefined ? {} : { scaling }),
});

type Stored = { metadata: { name: string }; spec: Record<string, unknown>; status?: Record<string, unknown> };

const create = (body: unknown) =>
  objects.createNamespacedCustomObject({
    ...GVR,
    namespace: ns,
    body: {
      apiVersion: 'stampede.dev/v1alpha1',
      kind: 'SeckillActivity',
      metadata: { name: `capacity-${++n}` },
      spec: body,
    },
  }) as Promise<Stored>;

/** The API server's message for a refusal. */
async function refusal(body: unknown): Promise<string> {
  const err = await create(body).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  const text = String((err as { body?: string }).body ?? err);
  try {
    return (JSON.parse(text) as { message: string }).message;
  } catch {
    return text;
  }
}

beforeAll(async () => {
  env = await EnvTest.start();
  await env.apply(CRD);
  const kc = env.kubeConfig();
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
  objects = kc.makeApiClient(k8s.CustomObjectsApi);
}, 120_000);
afterAll(async () => {
  await env?.stop();
});

it('fills capacityLead 15m, well above the default scaling lead, like the zod schema does', async () => {
  for (const scaling of [undefined, {}, { leadTime: '10m' }]) {
    const created = await create(spec(scaling));
    expect(created.spec.scaling).toMatchObject({ capacityLead: '15m' });
    expect(activitySpecSchema.parse(spec(scaling)).scaling.capacityLead).toBe('15m');
  }
});

it.each([
  ['equal to the scaling lead', { leadTime: '20m', capacityLead: '20m' }],
  ['in seconds, for a sale run in seconds', { leadTime: '2s', capacityLead: '5s' }],
  ['above the default scaling lead', { capacityLead: '6m' }],
])('accepts a capacityLead %s', async (_what, scaling) => {
  const created = await create(spec(scaling));
  expect(created.spec.scaling).toMatchObject({ capacityLead: scaling.capacityLead });
  expect(activitySpecSchema.safeParse(created.spec).success).toBe(true);
});

it.each([
  [
    'below the scaling lead',
    { leadTime: '5m', capacityLead: '299s' },
    /capacityLead must be >= scaling.leadTime/,
  ],
  ['below the default scaling lead', { capacityLead: '2m' }, /capacityLead must be >= scaling.leadTime/],
  ['below a scaling lead above its default', { leadTime: '20m' }, /capacityLead must be >= scaling.leadTime/],
  ['of zero', { leadTime: '1s', capacityLead: '0s' }, /capacityLead must be a positive duration/],
  ['without a unit', { capacityLead: '900' }, /spec.scaling.capacityLead/],
])('refuses a capacityLead %s, as zod does', async (_what, scaling, message) => {
  expect(await refusal(spec(scaling))).toMatch(message);
  expect(activitySpecSchema.safeParse(spec(scaling)).success).toBe(false);
});

it('stores status.capacity through the status subresource', async () => {
  const created = await create(spec());
  const patched = (await objects.patchNamespacedCustomObjectStatus(
    {
      ...GVR,
      namespace: ns,
      name: created.metadata.name,
      body: { status: { phase: 'Scheduled', capacity: { wanted: 8, ready: 3 } } },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  )) as Stored;
  expect(patched.status?.capacity).toEqual({ wanted: 8, ready: 3 });
});
