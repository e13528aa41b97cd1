// spec.purchaseToken (issue 14) against a real kube-apiserver: defaults are filled, a bad rule is refused
// by the schema or its CEL rule, and the zod schema of `stampede apply` agrees on every case.
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { crdCluster, type CrdCluster } from '../helpers/operator.js';

let crd: CrdCluster;
let n = 0;

const spec = (purchaseToken?: unknown) => ({
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', price: '4999.00' },
  stock: 10,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
  ...(purchaseToken === undefined ? {} : { purchaseToken }),
});

const create = (body: Record<string, unknown>) =>
  crd.cluster.create(`token-${++n}`, body) as Promise<{ spec: Record<string, unknown> }>;

beforeAll(async () => {
  crd = await crdCluster('crd-token');
}, 120_000);
afterAll(async () => {
  await crd?.stop();
});

it('leaves a manifest without purchaseToken without one (existing sales unchanged)', async () => {
  const created = await create(spec());
  expect(created.spec.purchaseToken).toBeUndefined();
  expect(activitySpecSchema.parse(created.spec).purchaseToken).toBeUndefined();
});

it('fills the defaults like the zod schema does', async () => {
  const created = await create(spec({ required: true }));
  const want = { required: true, challenge: 'none', difficulty: 50000 };
  expect(created.spec.purchaseToken).toEqual(want);
  expect(activitySpecSchema.parse(spec({ required: true })).purchaseToken).toEqual(want);
  const pow = await create(spec({ required: true, challenge: 'pow', difficulty: 2000 }));
  expect(pow.spec.purchaseToken).toEqual({ required: true, challenge: 'pow', difficulty: 2000 });
});

it('prunes an unknown field, as for the rest of the spec (the strict zod schema would refuse it)', async () => {
  const created = await create(spec({ required: true, ttl: 5 }));
  expect(created.spec.purchaseToken).toEqual({ required: true, challenge: 'none', difficulty: 50000 });
  expect(activitySpecSchema.safeParse(spec({ required: true, ttl: 5 })).success).toBe(false);
});

it.each([
  ['pow without required', { challenge: 'pow' }, /pow needs required: true/],
  ['an unknown challenge', { required: true, challenge: 'captcha' }, /purchaseToken.challenge/],
  ['difficulty 0', { required: true, challenge: 'pow', difficulty: 0 }, /purchaseToken.difficulty/],
])('refuses %s', async (_what, token, message) => {
  const err = await create(spec(token)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect(String((err as { body?: string }).body ?? err)).toMatch(message);
  expect(activitySpecSchema.safeParse(spec(token)).success).toBe(false);
});
