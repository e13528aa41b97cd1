// The CRD against a real kube-apiserver: defaults are filled, bad manifests are refused with a message
// that names the problem, and the zod schema of `stampede apply` refuses the same manifests.
import * as k8s from '@kubernetes/client-node';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { crdCluster, type CrdCluster } from '../helpers/operator.js';

let crd: CrdCluster;

const good = () => ({
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', originalPrice: '7999.00', price: '4999.00' },
  stock: 1000,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
});

const create = (name: string, spec: Record<string, unknown>) => crd.cluster.create(name, spec);

beforeAll(async () => {
  crd = await crdCluster('crd');
}, 120_000);
afterAll(async () => {
  await crd?.stop();
});

it('accepts a good manifest and fills the defaults', async () => {
  const created = (await create('iphone-17-1111', good())) as { spec: Record<string, unknown> };
  expect(created.spec).toMatchObject({
    maxPerUser: 1,
    paymentWindow: '15m',
    paused: false,
    preheat: { leadTime: '10m' },
    scaling: { leadTime: '5m', cooldown: '10m', targets: [] },
  });
  expect(activitySpecSchema.safeParse(created.spec).success).toBe(true);
});

it.each([
  [
    'window.end before window.start',
    { window: { start: '2026-11-11T00:30:00Z', end: '2026-11-11T00:00:00Z' } },
    /window.end must be after window.start/,
  ],
  ['negative stock', { stock: -1 }, /spec.stock/],
  ['maxPerUser 0', { maxPerUser: 0 }, /spec.maxPerUser/],
  ['a price as a number', { product: { sku: 'X', name: 'X', price: 4999 } }, /spec.product.price/],
  ['a price with three decimals', { product: { sku: 'X', name: 'X', price: '1.999' } }, /spec.product.price/],
  ['a duration without a unit', { paymentWindow: '15' }, /spec.paymentWindow/],
  ['a zero duration', { preheat: { leadTime: '0s' } }, /positive duration/],
  [
    'maxReplicas below minReplicas',
    { scaling: { targets: [{ name: 'd', minReplicas: 5, maxReplicas: 2 }] } },
    /maxReplicas must be >= minReplicas/,
  ],
])('refuses %s with a useful message', async (_what, over, message) => {
  const spec = { ...good(), ...over };
  const err = await create(`bad-${Math.random().toString(36).slice(2, 8)}`, spec).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  const body = String((err as { body?: string }).body ?? err);
  const status = (() => {
    try {
      return String((JSON.parse(body) as { message: string }).message);
    } catch {
      return body;
    }
  })();
  expect(status).toMatch(message);
  expect(activitySpecSchema.safeParse(spec).success).toBe(false);
});

it('serves the printer columns and the short name', async () => {
  const kc = crd.env.kubeConfig();
  const disco = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
  expect(disco.groups.map((g) => g.name)).toContain('stampede.dev');
  const resources = await kc
    .makeApiClient(k8s.CustomObjectsApi)
    .getAPIResources({ group: 'stampede.dev', version: 'v1alpha1' });
  const ska = resources.resources.find((r) => r.name === 'seckillactivities');
  expect(ska?.shortNames).toEqual(['ska']);
});
