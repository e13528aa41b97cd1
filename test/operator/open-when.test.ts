// spec.openWhen: capacityReady (issue 22, docs/open-when.md) against a real kube-apiserver, Redis and
// Postgres. The API server alone runs no pod, so CapacityReady stays False (FloorPodsNotReady): the opening
// is held at start + maxOpenDelay, which Postgres (the API's start) and the Redis info (the purchase script's
// start) both say; past the spec start the script answers NOT_STARTED, the phase stays Ready and a Warning
// says so. When the delay runs out the sale opens, and a Normal Event says why.
import * as k8s from '@kubernetes/client-node';
import { QueryTypes } from 'sequelize';
import { v7 as uuidv7 } from 'uuid';
import { readActivity } from '../../services/core/activity/preheat.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { PurchaseCode, Scripts } from '../../services/core/redis/scripts.js';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, saleSpec, type Cluster, type OperatorEnv, type Sale } from '../helpers/operator.js';

let oe: OperatorEnv;

beforeAll(async () => {
  oe = await operatorEnv('open-when');
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

/** A sale on the Deployment `web` (2 replicas, none Ready here) whose floor of 3 is never Ready. */
const heldSale = (s: Omit<Sale, 'targets'>, maxOpenDelay?: string) => {
  const spec = saleSpec({
    ...s,
    preheatLead: '1m',
    targets: [{ name: 'web', minReplicas: 3, maxReplicas: 5 }],
  });
  return { ...spec, openWhen: 'capacityReady', ...(maxOpenDelay ? { maxOpenDelay } : {}) };
};
const startOf = (spec: Record<string, unknown>) => Date.parse((spec.window as { start: string }).start);

const opensAt = async (cluster: Cluster, name: string) => (await cluster.get(name))?.status?.opensAt;
const redisStart = async (name: string) => (await readActivity(oe.redis, oe.prefix, name))?.info.startMs;
const postgresStart = async (name: string) => {
  const [row] = await oe.pg.db.query<{ start: Date }>(
    `SELECT start_time AS start FROM seckill_activities WHERE name = $1`,
    { bind: [name], type: QueryTypes.SELECT },
  );
  return row?.start.getTime();
};
const buy = (name: string, user: string) =>
  new Scripts(oe.redis).purchase(activityKeys(oe.prefix, name), user, uuidv7(), 1);
const eventsOf = async (cluster: Cluster, name: string, reason: string) =>
  (await cluster.events(name)).filter((e) => e.startsWith(`${reason}:`));
/** The Events of `reason`, once there is one. */
const eventOf = async (cluster: Cluster, name: string, reason: string, timeoutMs?: number) =>
  waitFor(
    async () => {
      const list = await eventsOf(cluster, name, reason);
      return list.length ? list : null;
    },
    reason,
    timeoutMs,
  );

/** A gauge's value for one activity in the operator's exposition. */
function gauge(metrics: string, name: string, activity: string): number {
  const m = new RegExp(`^${name}\\{activity="${activity}"[^}]*\\} (\\S+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : NaN;
}

it('holds the opening at start + maxOpenDelay while capacity is not ready: NOT_STARTED past the start', async () => {
  const cluster = await oe.namespace('held', ['web']);
  const op = await oe.operator(cluster.ns);
  const spec = heldSale({ startInMs: 3000, lengthMs: 600_000 });
  const held = startOf(spec) + 300_000; // the default maxOpenDelay, 5m
  await cluster.create('held', spec);
  await waitFor(
    async () => (await opensAt(cluster, 'held')) === new Date(held).toISOString(),
    'status.opensAt',
  );
  await waitFor(async () => (await redisStart('held')) === held, 'the Redis info start at the opening');
  expect(await postgresStart('held')).toBe(held);

  await waitFor(() => Date.now() >= startOf(spec) + 100, 'the spec start');
  expect((await buy('held', 'u1')).code).toBe(PurchaseCode.NOT_STARTED);
  const [warning] = await eventOf(cluster, 'held', 'OpeningHeld');
  expect(warning).toContain(`at the latest ${new Date(held).toISOString()}`);
  expect(warning).toContain('FloorPodsNotReady');
  const status = (await cluster.get('held'))?.status;
  expect(status?.phase).toBe('Ready');
  expect(status?.conditions?.find((c) => c.type === 'CapacityReady')?.status).toBe('False');
  expect(await eventsOf(cluster, 'held', 'OpeningHeld')).toHaveLength(1);
  await op.stop();
}, 60_000);

it('opens when the delay runs out, and says so', async () => {
  const cluster = await oe.namespace('late', ['web']);
  const op = await oe.operator(cluster.ns);
  const spec = heldSale({ startInMs: 3000, lengthMs: 60_000 }, '3s');
  const held = startOf(spec) + 3000;
  await cluster.create('late', spec);
  await waitFor(async () => (await redisStart('late')) === held, 'the Redis info start at the opening');
  await eventOf(cluster, 'late', 'OpeningHeld', 20_000);
  await cluster.waitPhase('late', 'Live');
  expect((await buy('late', 'u1')).code).toBe(PurchaseCode.ACCEPTED);
  const [late] = await eventOf(cluster, 'late', 'OpenedLate');
  expect(late).toContain('the delay ran out');
  expect(await opensAt(cluster, 'late')).toBe(new Date(held).toISOString());
  expect(gauge(await op.operator.registry.metrics(), 'stampede_opening_delay_seconds', 'late')).toBe(3);
  await op.stop();
}, 60_000);

it('opens at once when the floor’s pods turn Ready after the start, and says so', async () => {
  const cluster = await oe.namespace('ready', ['web']);
  const op = await oe.operator(cluster.ns);
  const spec = heldSale({ startInMs: 3000, lengthMs: 600_000 }, '1m');
  await cluster.create('ready', spec);
  await eventOf(cluster, 'ready', 'OpeningHeld', 20_000);
  expect(await cluster.phase('ready')).toBe('Ready');
  // What a kubelet and the Deployment controller would report once the floor's 3 pods are Ready.
  const ready = { replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 };
  await cluster.apps.patchNamespacedDeploymentStatus(
    { namespace: cluster.ns, name: 'web', body: { status: ready } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  await cluster.waitPhase('ready', 'Live');
  expect((await buy('ready', 'u1')).code).toBe(PurchaseCode.ACCEPTED);
  const [late] = await eventOf(cluster, 'ready', 'OpenedLate');
  expect(late).toContain('capacity turned ready');
  const at = Date.parse(String(await opensAt(cluster, 'ready')));
  expect(at).toBeGreaterThan(startOf(spec));
  expect(at).toBeLessThan(startOf(spec) + 60_000);
  expect(await redisStart('ready')).toBe(at);
  expect(await postgresStart('ready')).toBe(at);
  // Opened as capacity turned ready: late against the start, not against the opening (no alert).
  const metrics = await op.operator.registry.metrics();
  const delay = gauge(metrics, 'stampede_opening_delay_seconds', 'ready');
  expect(delay).toBe((at - startOf(spec)) / 1000);
  expect(gauge(metrics, 'stampede_capacity_ready_lead_seconds', 'ready')).toBe(-delay);
  await op.stop();
}, 60_000);

it('opens at the start when capacity is ready from start − scaling.leadTime (a sale with no target)', async () => {
  const cluster = await oe.namespace('ontime');
  const op = await oe.operator(cluster.ns);
  const spec = {
    ...saleSpec({ startInMs: 5000, lengthMs: 600_000, preheatLead: '1m' }),
    openWhen: 'capacityReady',
  };
  await cluster.create('ontime', spec);
  const start = new Date(startOf(spec)).toISOString();
  await waitFor(async () => (await opensAt(cluster, 'ontime')) === start, 'status.opensAt at the start');
  await waitFor(async () => (await redisStart('ontime')) === startOf(spec), 'the Redis info start');
  await cluster.waitPhase('ontime', 'Live');
  expect((await buy('ontime', 'u1')).code).toBe(PurchaseCode.ACCEPTED);
  expect(await eventsOf(cluster, 'ontime', 'OpenedLate')).toEqual([]);
  await op.stop();
}, 60_000);

it('writes opensAt = start for a sale that opens at its start', async () => {
  const cluster = await oe.namespace('plain', ['web']);
  const op = await oe.operator(cluster.ns);
  const spec = saleSpec({ startInMs: 60_000, lengthMs: 60_000, preheatLead: '2m' });
  await cluster.create('plain', spec);
  await waitFor(
    async () => (await opensAt(cluster, 'plain')) === new Date(startOf(spec)).toISOString(),
    'status.opensAt',
  );
  await waitFor(async () => (await redisStart('plain')) === startOf(spec), 'the Redis info start');
  await op.stop();
}, 60_000);
