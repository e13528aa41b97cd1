// Two operator processes with the least-privilege RBAC of k8s/operator-rbac.yaml: exactly one reconciles;
// SIGKILL the leader and the other takes over within the lease duration.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { Redis } from 'ioredis';
import { EnvTest } from '../../rehearsal/envtest.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { DATABASE_URL, dropRedisPrefix, freePort, newRedis, randomPrefix, waitFor } from '../helpers/env.js';
import { Cluster, saleSpec } from '../helpers/operator.js';

const CRD = new URL('../../k8s/crd/seckillactivities.yaml', import.meta.url).pathname;
const RBAC = new URL('../../k8s/operator-rbac.yaml', import.meta.url).pathname;
const MAIN = new URL('../../dist/operator/main.js', import.meta.url).pathname;
const SA = 'system:serviceaccount:stampede:stampede-operator';
const prefix = randomPrefix('lead');
let env: EnvTest;
let pg: TestSchema;
let redis: Redis;
let cluster: Cluster;
const procs = new Map<string, { child: ChildProcess; port: number }>();

async function operator(id: string): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      KUBECONFIG: env.kubeConfigFile(SA),
      POD_NAME: id,
      LEASE_NAMESPACE: 'stampede',
      LEASE_DURATION_SECONDS: '3',
      WATCH_NAMESPACE: cluster.ns,
      STAMPEDE_PREFIX: prefix,
      DATABASE_URL,
      DATABASE_SCHEMA: pg.schema,
      PORT: String(port),
      LOG_LEVEL: 'silent',
    },
    stdio: 'ignore',
  });
  procs.set(id, { child, port });
  await waitFor(
    async () =>
      await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    `${id} up`,
  );
}

async function reconciles(id: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${procs.get(id)?.port}/metrics`)).text();
  return Number(/stampede_operator_reconcile_total\{result="success"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  env = await EnvTest.start([
    {
      user: SA,
      groups: ['system:serviceaccounts', 'system:serviceaccounts:stampede', 'system:authenticated'],
    },
  ]);
  await env.apply(CRD);
  await env.apply(RBAC);
  pg = await testSchema();
  redis = newRedis();
  cluster = new Cluster(env, `lead-${Date.now()}`);
  await cluster.namespace();
}, 120_000);
afterAll(async () => {
  for (const p of procs.values()) p.child.kill('SIGKILL');
  await env?.stop();
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pg.drop();
});

it('lets exactly one of two operators act, and the other take over when the leader is killed', async () => {
  await operator('op-a');
  await operator('op-b');
  const leases = env.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
  const holder = async () =>
    (await leases.readNamespacedLease({ namespace: 'stampede', name: 'stampede-operator' })).spec
      ?.holderIdentity;
  const leader = await waitFor(holder, 'a leader');
  const standby = leader === 'op-a' ? 'op-b' : 'op-a';

  await cluster.create('first', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }));
  await cluster.waitPhase('first', 'Scheduled');
  expect(await reconciles(leader)).toBeGreaterThan(0);
  expect(await reconciles(standby)).toBe(0);

  procs.get(leader)?.child.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor(async () => (await holder()) === standby, 'the standby to take the lease', 15_000);
  // The 3 s lease, a retry period, and slack for a busy machine; a standby that ignored the lease's
  // duration (or waited out a default 15 s one) still fails here.
  expect(Date.now() - killedAt).toBeLessThan(3_000 + 2_000 + 3_000);
  await cluster.create('second', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }));
  await cluster.waitPhase('second', 'Scheduled');
  expect(await reconciles(standby)).toBeGreaterThan(0);
}, 60_000);
