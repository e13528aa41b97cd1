// spec.scaling.capacityLead and status.capacity (issue 22) against a real kube-apiserver: the default is
// filled, a lead that would bring placeholders after the floor is refused by a CEL rule with duration(), and
// the zod schema of `stampede apply` agrees on every case.
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { crdCluster, patchStatusOf, refusalOf, type CrdCluster } from '../helpers/operator.js';

let crd: CrdCluster;
let n = 0;

const spec = (scaling?: Record<string, unknown>) => ({
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', price: '4999.00' },
  stock: 10,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
  ...(scaling === undefined ? {} : { scaling }),
});

type Stored = { metadata: { name: string }; spec: Record<string, unknown>; status?: Record<string, unknown> };

const create = (body: Record<string, unknown>) =>
  crd.cluster.create(`capacity-${++n}`, body) as Promise<Stored>;
const refusal = (body: Record<string, unknown>): Promise<string> => refusalOf(create, body);

beforeAll(async () => {
  crd = await crdCluster('crd-capacity');
}, 120_000);
afterAll(async () => {
  await crd?.stop();
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
  const patched = await patchStatusOf(crd.cluster, created.metadata.name, {
    phase: 'Scheduled',
    capacity: { wanted: 8, ready: 3 },
  });
  expect(patched.status?.capacity).toEqual({ wanted: 8, ready: 3 });
});
