// A whole sale against a real kube-apiserver, Redis and Postgres, in seconds: Scheduled → Preheating/Ready →
// Live → SoldOut (bought through the real seckill path) → Ended, Redis preheated before the start, the HPA
// floor raised at start − scaling.leadTime and restored after end + cooldown.
import type { Redis } from 'ioredis';
import { activityKeys } from '../../services/core/redis/keys.js';
import { tokens, waitFor } from '../helpers/env.js';
import {
  operatorSuite,
  saleSpec,
  type Cluster,
  type OperatorSuite,
  type RunningOperator,
} from '../helpers/operator.js';
import { call, startSeckill, waitReady, type RunningSeckill } from '../helpers/seckill.js';

let suite: OperatorSuite;
let redis: Redis;
let cluster: Cluster;
let op: RunningOperator;
let prefix: string;
let seckill: RunningSeckill;

beforeAll(async () => {
  suite = await operatorSuite('op', 'shop-seckill');
  ({ redis, cluster, op, prefix } = suite);
  seckill = await startSeckill(prefix, { DATABASE_SCHEMA: suite.pg.schema });
  await waitReady(seckill.url);
}, 120_000);
afterAll(async () => {
  await seckill?.stop();
  await suite?.stop();
});

it('runs a sale from Scheduled to Ended, preheating and scaling ahead of the crowd', async () => {
  // 12 s ahead: the baseline must be seen before start − scalingLead (8 s after the create), which a busy
  // machine's first reconcile and the test's polls must both fit in.
  const spec = saleSpec({
    startInMs: 12_000,
    lengthMs: 6000,
    stock: 2,
    preheatLead: '3s',
    scalingLead: '4s',
    cooldown: '2s',
    targets: [{ name: 'shop-seckill', minReplicas: 6, maxReplicas: 9 }],
  });
  const start = Date.parse((spec.window as { start: string }).start);
  const end = Date.parse((spec.window as { end: string }).end);
  await cluster.create('phone-drop', spec);
  const k = activityKeys(prefix, 'phone-drop');

  await cluster.waitPhase('phone-drop', 'Scheduled');
  expect(await redis.exists(k.stock)).toBe(0);
  const scheduled = await cluster.get('phone-drop');
  expect(scheduled?.metadata.finalizers).toContain('stampede.dev/cleanup');
  expect(scheduled?.status?.conditions?.find((c) => c.type === 'Preheated')).toMatchObject({
    status: 'False',
    reason: 'Waiting',
    observedGeneration: 1,
  });
  // Before start − scaling.leadTime the operator holds the target at its baseline (the Deployment's 2).
  await waitFor(async () => (await cluster.floor('shop-seckill')) === 2, 'the HPA created at its baseline');
  expect(Date.now()).toBeLessThan(start - 4000);

  await waitFor(async () => (await cluster.floor('shop-seckill')) === 6, 'the HPA floor raised');
  expect(Date.now()).toBeLessThan(start);
  await cluster.waitPhase('phone-drop', 'Ready');
  expect(Date.now()).toBeLessThan(start);
  expect(await redis.get(k.stock)).toBe('2');
  expect(
    (await cluster.get('phone-drop'))?.status?.conditions?.find((c) => c.type === 'Preheated')?.status,
  ).toBe('True');
  const hpa = await cluster.hpa.readNamespacedHorizontalPodAutoscaler({
    namespace: cluster.ns,
    name: 'shop-seckill',
  });
  expect(hpa.metadata?.annotations).toMatchObject({ 'stampede.dev/baseline-min-replicas': '2' });
  expect(hpa.metadata?.annotations).toMatchObject({ 'stampede.dev/managed-by': 'stampede-operator' });
  expect(hpa.metadata?.labels ?? {}).not.toHaveProperty('app.kubernetes.io/managed-by');
  expect(hpa.spec?.behavior?.scaleUp?.stabilizationWindowSeconds).toBe(0);

  await cluster.waitPhase('phone-drop', 'Live', 15_000);
  for (const u of ['b1', 'b2']) {
    const r = await call(seckill.url, '/seckill/phone-drop', {
      token: await tokens.sign({ userId: u, role: 'user' }),
      body: {},
    });
    expect(r.status).toBe(202);
  }
  await cluster.waitPhase('phone-drop', 'SoldOut');
  expect((await cluster.get('phone-drop'))?.status?.stock).toMatchObject({ total: 2, remaining: 0 });

  await cluster.waitPhase('phone-drop', 'Ended', 15_000);
  expect(Date.now()).toBeGreaterThanOrEqual(end);
  await waitFor(
    async () => (await cluster.floor('shop-seckill')) === 2,
    'the HPA floor back at its baseline',
    15_000,
  );
  const events = await cluster.events('phone-drop');
  expect(events).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/PhaseChanged: .*Live/),
      expect.stringMatching(/PhaseChanged: .*Ended/),
    ]),
  );
  const metrics = await (
    await fetch(`http://127.0.0.1:${(op.server.address() as { port: number }).port}/metrics`)
  ).text();
  expect(metrics).toMatch(/stampede_activity_phase\{activity="phone-drop",phase="Ended"[^}]*\} 1/);
  expect(metrics).toMatch(/stampede_operator_reconcile_total\{result="success"/);
}, 60_000);
