// spec.waitingRoom and status.waitingRoom (issue 21) against a real kube-apiserver: defaults are filled,
// a bad room is refused by the schema or a CEL rule, and the zod schema of `stampede apply` agrees on
// every case.
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { crdCluster, patchStatusOf, refusalOf, type CrdCluster } from '../helpers/operator.js';

let crd: CrdCluster;
let n = 0;

const spec = (waitingRoom?: unknown, over: Record<string, unknown> = {}) => ({
  product: { sku: 'IPHONE-17-256', name: 'iPhone 17 256 GB', price: '4999.00' },
  stock: 10,
  window: { start: '2026-11-11T00:00:00Z', end: '2026-11-11T00:30:00Z' },
  ...(waitingRoom === undefined ? {} : { waitingRoom }),
  ...over,
});

type Stored = { metadata: { name: string }; spec: Record<string, unknown>; status?: Record<string, unknown> };

const create = (body: Record<string, unknown>) => crd.cluster.create(`room-${++n}`, body) as Promise<Stored>;

const refusal = (body: Record<string, unknown>): Promise<string> => refusalOf(create, body);

const DEFAULTS = {
  enabled: false,
  opensBefore: '10m',
  admitPerSecond: 50,
  maxActive: 500,
  admissionTtl: '2m',
  challenge: 'none',
};

beforeAll(async () => {
  crd = await crdCluster('crd-room');
}, 120_000);
afterAll(async () => {
  await crd?.stop();
});

it('leaves a manifest without waitingRoom without one (existing sales unchanged)', async () => {
  const created = await create(spec());
  expect(created.spec.waitingRoom).toBeUndefined();
  expect(activitySpecSchema.parse(created.spec).waitingRoom).toBeUndefined();
});

it('fills the defaults like the zod schema does', async () => {
  const created = await create(spec({ enabled: true }));
  expect(created.spec.waitingRoom).toEqual({ ...DEFAULTS, enabled: true });
  expect(activitySpecSchema.parse(spec({ enabled: true })).waitingRoom).toEqual({
    ...DEFAULTS,
    enabled: true,
  });
  const room = { enabled: true, opensBefore: '0s', admitPerSecond: 1, maxActive: 10000, challenge: 'pow' };
  const edge = await create(spec(room, { preheat: { leadTime: '1m' } }));
  expect(edge.spec.waitingRoom).toEqual({ ...room, admissionTtl: '2m' });
});

it('checks opensBefore against the preheat lead only for an enabled room', async () => {
  const short = { preheat: { leadTime: '2s' } };
  const off = await create(spec({}, short));
  expect(off.spec.waitingRoom).toEqual(DEFAULTS);
  expect(activitySpecSchema.safeParse(spec({}, short)).success).toBe(true);
  const equal = await create(spec({ enabled: true, opensBefore: '30m' }, { preheat: { leadTime: '30m' } }));
  expect(equal.spec.waitingRoom).toMatchObject({ opensBefore: '30m' });
});

it.each([
  ['opensBefore after the default preheat lead', { enabled: true, opensBefore: '11m' }, {}],
  ['the default opensBefore with a short lead', { enabled: true }, { preheat: { leadTime: '2s' } }],
])('refuses %s (CEL)', async (_what, room, over) => {
  expect(await refusal(spec(room, over))).toMatch(
    /spec\.waitingRoom\.opensBefore: .*waitingRoom\.opensBefore must be <= preheat\.leadTime/,
  );
  expect(activitySpecSchema.safeParse(spec(room, over)).success).toBe(false);
});

it.each([
  ['admitPerSecond 0', { enabled: true, admitPerSecond: 0 }, /waitingRoom.admitPerSecond/],
  ['maxActive above 10000', { maxActive: 10001 }, /waitingRoom.maxActive/],
  ['an unknown challenge', { enabled: true, challenge: 'captcha' }, /waitingRoom.challenge/],
  ['a zero admissionTtl', { admissionTtl: '0s' }, /admissionTtl must be a positive duration/],
  ['an admissionTtl that is no duration', { admissionTtl: '2 minutes' }, /waitingRoom.admissionTtl/],
  ['a negative opensBefore', { opensBefore: '-5m' }, /waitingRoom.opensBefore/],
])('refuses %s', async (_what, room, message) => {
  expect(await refusal(spec(room))).toMatch(message);
  expect(activitySpecSchema.safeParse(spec(room)).success).toBe(false);
});

it('keeps status.waitingRoom counts written through the status subresource', async () => {
  const created = await create(spec({ enabled: true }));
  const waitingRoom = { waiting: 3, active: 2, admitted: 5 };
  const patched = await patchStatusOf(crd.cluster, created.metadata.name, { phase: 'Live', waitingRoom });
  expect(patched.status?.waitingRoom).toEqual(waitingRoom);
});
