// Operator behaviour against a real kube-apiserver (and real Redis and Postgres): overlapping activities on
// one Deployment, spec changes during a sale, the finalizer, and a watch that survives an API server restart.
import type { Redis } from 'ioredis';
import type { EnvTest } from '../../rehearsal/envtest.js';
import { activityKeys } from '../../services/core/redis/keys.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { waitFor } from '../helpers/env.js';
import { operatorSuite, saleSpec, type Cluster, type OperatorSuite } from '../helpers/operator.js';

let suite: OperatorSuite;
let env: EnvTest;
let redis: Redis;
let cluster: Cluster;
let prefix: string;

beforeAll(async () => {
  suite = await operatorSuite('opb', 'web');
  ({ env, redis, cluster, prefix } = suite);
}, 120_000);
afterAll(async () => {
  await suite?.stop();
});

it('sets the floor of two overlapping activities to their max, then the other’s, then the baseline', async () => {
  // big: scaling window [2 s, 7 s]; small: [3 s, 11 s] after now.
  await cluster.create(
    'big',
    saleSpec({
      startInMs: 4000,
      lengthMs: 2000,
      scalingLead: '2s',
      cooldown: '1s',
      targets: [{ name: 'web', minReplicas: 8, maxReplicas: 10 }],
    }),
  );
  await cluster.create(
    'small',
    saleSpec({
      startInMs: 5000,
      lengthMs: 5000,
      scalingLead: '2s',
      cooldown: '1s',
      targets: [{ name: 'web', minReplicas: 5, maxReplicas: 10 }],
    }),
  );
  await waitFor(async () => (await cluster.floor('web')) === 8, 'floor 8 while both run');
  await waitFor(
    async () => (await cluster.floor('web')) === 5,
    'floor 5 once the big sale cooled down',
    15_000,
  );
  expect(await cluster.phase('small')).not.toBe('Ended');
  await waitFor(async () => (await cluster.floor('web')) === 2, 'the baseline once both cooled down', 15_000);
}, 40_000);

it('reconciles spec changes during a sale: more stock, pause, a moved window; observedGeneration follows', async () => {
  await cluster.create(
    'changing',
    saleSpec({ startInMs: 1000, lengthMs: 60_000, stock: 2, preheatLead: '1s' }),
  );
  await cluster.waitPhase('changing', 'Live');
  const k = activityKeys(prefix, 'changing');
  await new Scripts(redis).purchase(k, 'u1', '0190a1b2-0000-7000-8000-0000000000c1', 1);
  await cluster.patchSpec('changing', { stock: 5 });
  await waitFor(async () => (await redis.get(k.stock)) === '4', 'the raised stock in Redis');
  await waitFor(
    async () => (await cluster.get('changing'))?.status?.observedGeneration === 2,
    'observedGeneration 2',
  );
  await cluster.patchSpec('changing', { paused: true });
  await waitFor(
    async () =>
      (await cluster.get('changing'))?.status?.conditions?.find((c) => c.type === 'Ready')?.reason ===
      'Paused',
    'Ready=False Paused',
  );
  const paused = await cluster.get('changing');
  expect(paused?.status?.conditions?.every((c) => c.observedGeneration === 3)).toBe(true);
  expect(await redis.hget(k.info, 'state')).toBe('paused');
  const end = new Date(Date.now() + 120_000).toISOString();
  await cluster.patchSpec('changing', {
    paused: false,
    window: { start: (paused?.spec.window as { start: string }).start, end },
  });
  await waitFor(
    async () => (await redis.hget(k.info, 'end')) === String(Date.parse(end)),
    'the moved window in Redis',
  );
  // Below what is sold: refused with a condition and a Warning event, nothing changes in Redis.
  await cluster.patchSpec('changing', { stock: 0 });
  await waitFor(
    async () =>
      (await cluster.get('changing'))?.status?.conditions?.find((c) => c.type === 'Preheated')?.reason ===
      'StockBelowSold',
    'StockBelowSold',
  );
  expect(await redis.get(k.stock)).toBe('4');
  await waitFor(
    async () => (await cluster.events('changing')).some((e) => e.startsWith('StockBelowSold')),
    'the Warning event',
  );
}, 40_000);

it('holds the deletion of a live sale until it is annotated, then cleans Redis and restores floors', async () => {
  await cluster.create(
    'doomed',
    saleSpec({
      startInMs: 1000,
      lengthMs: 60_000,
      preheatLead: '1s',
      scalingLead: '2s',
      targets: [{ name: 'web', minReplicas: 7, maxReplicas: 9 }],
    }),
  );
  await cluster.waitPhase('doomed', 'Live');
  await waitFor(async () => (await cluster.floor('web')) === 7, 'floor 7');
  await cluster.remove('doomed');
  await waitFor(
    async () => (await cluster.events('doomed')).some((e) => e.startsWith('DeleteBlocked')),
    'DeleteBlocked',
  );
  expect(await cluster.get('doomed')).not.toBeNull();
  expect(await redis.exists(activityKeys(prefix, 'doomed').stock)).toBe(1);
  await cluster.annotate('doomed', { 'stampede.dev/allow-delete-live': 'true' });
  await waitFor(async () => (await cluster.get('doomed')) === null, 'the object gone');
  expect(await redis.exists(activityKeys(prefix, 'doomed').stock)).toBe(0);
  await waitFor(async () => (await cluster.floor('web')) === 2, 'the floor restored');
}, 40_000);

it('resumes watching after the API server restarts and misses nothing', async () => {
  await cluster.create('before-restart', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }));
  await cluster.waitPhase('before-restart', 'Scheduled');
  await env.restartApiServer();
  await cluster.create('after-restart', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }));
  await cluster.waitPhase('after-restart', 'Scheduled', 30_000);
  await cluster.patchSpec('before-restart', { stock: 9 });
  await waitFor(
    async () => (await cluster.get('before-restart'))?.status?.observedGeneration === 2,
    'the change after the restart',
  );
}, 60_000);

it('reports a missing target Deployment as a condition, not a crash', async () => {
  await cluster.create(
    'lost-target',
    saleSpec({
      startInMs: 3_600_000,
      lengthMs: 60_000,
      targets: [{ name: 'nowhere', minReplicas: 3, maxReplicas: 4 }],
    }),
  );
  await waitFor(
    async () =>
      (await cluster.get('lost-target'))?.status?.conditions?.find((c) => c.type === 'ScaledUp')?.reason ===
      'TargetNotFound',
    'ScaledUp=False TargetNotFound',
  );
  expect(await cluster.phase('lost-target')).toBe('Scheduled');
});
