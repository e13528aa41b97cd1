// spec.openWhen, spec.maxOpenDelay and status.opensAt (issue 22, docs/open-when.md) against a real
// kube-apiserver: the defaults are filled, a delay above 1h or one that would open at or after the end is
// refused (a CEL rule with timestamp() + duration()), and the zod schema of `stampede apply` agrees.
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { crdCluster, patchStatusOf, refusalOf, type CrdCluster } from '../helpers/operator.js';

let crd: CrdCluster;
let n = 0;

const spec = (over: Record<string, unknown> = {}) => ({
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', price: '4999.00' },
  stock: 10,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
  ...over,
});

type Stored = { metadata: { name: string }; spec: Record<string, unknown>; status?: Record<string, unknown> };

const create = (body: Record<string, unknown>) =>
  crd.cluster.create(`open-when-${++n}`, body) as Promise<Stored>;
const refusal = (body: Record<string, unknown>): Promise<string> => refusalOf(create, body);

beforeAll(async () => {
  crd = await crdCluster('crd-open-when');
}, 120_000);
afterAll(async () => {
  await crd?.stop();
});

it('fills openWhen start and maxOpenDelay 5m, like the zod schema does', async () => {
  const created = await create(spec());
  expect(created.spec).toMatchObject({ openWhen: 'start', maxOpenDelay: '5m' });
  expect(activitySpecSchema.parse(spec())).toMatchObject({ openWhen: 'start', maxOpenDelay: '5m' });
});

it('keeps a sale of seconds valid with the default delay when it opens at its start', async () => {
  const short = spec({ window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:00:10Z' } });
  const created = await create(short);
  expect(created.spec.maxOpenDelay).toBe('5m');
  expect(activitySpecSchema.safeParse(created.spec).success).toBe(true);
});

it.each([
  ['the default delay', { openWhen: 'capacityReady' }],
  [
    'a delay of 1h',
    {
      openWhen: 'capacityReady',
      maxOpenDelay: '1h',
      window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T01:00:01Z' },
    },
  ],
  ['a delay of seconds', { openWhen: 'capacityReady', maxOpenDelay: '3s' }],
  ['no delay', { openWhen: 'capacityReady', maxOpenDelay: '0s' }],
])('accepts capacityReady with %s', async (_what, over) => {
  const created = await create(spec(over));
  expect(created.spec.openWhen).toBe('capacityReady');
  expect(activitySpecSchema.safeParse(created.spec).success).toBe(true);
});

it.each([
  ['a delay above 1h', { maxOpenDelay: '61m' }, /maxOpenDelay must be at most 1h/],
  [
    'a delay reaching the end',
    { openWhen: 'capacityReady', maxOpenDelay: '30m' },
    /window.start \+ maxOpenDelay must be before window.end/,
  ],
  [
    'the default delay in a sale of seconds',
    { openWhen: 'capacityReady', window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:00:10Z' } },
    /window.start \+ maxOpenDelay must be before window.end/,
  ],
  ['a delay without a unit', { maxOpenDelay: '300' }, /spec.maxOpenDelay/],
  ['an unknown openWhen', { openWhen: 'soldOut' }, /spec.openWhen/],
])('refuses %s, as zod does', async (_what, over, message) => {
  expect(await refusal(spec(over))).toMatch(message);
  expect(activitySpecSchema.safeParse(spec(over)).success).toBe(false);
});

it('stores status.opensAt through the status subresource', async () => {
  const created = await create(spec({ openWhen: 'capacityReady' }));
  const patched = await patchStatusOf(crd.cluster, created.metadata.name, {
    phase: 'Ready',
    opensAt: '2026-11-11T00:05:00Z',
  });
  expect(patched.status?.opensAt).toBe('2026-11-11T00:05:00Z');
});
