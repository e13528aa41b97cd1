// Shared by the tests against the rehearsal cluster: one cluster per test file, the chart installed in a
// namespace of its own per release, the operators (built JS, leader election, the chart's ServiceAccount)
// against the real Postgres (own schema) and Redis (own prefix).
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { RehearsalCluster } from '../../rehearsal/cluster.js';
import {
  installChart,
  kubectl,
  startOperators,
  type Operators,
  type Release,
} from '../../rehearsal/stack.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { DATABASE_URL, dropRedisPrefix, newRedis, randomPrefix, REDIS_URL, waitFor } from '../helpers/env.js';

export { saleSpec } from '../helpers/operator.js';

export const startCluster = (): Promise<RehearsalCluster> =>
  RehearsalCluster.start({ nodes: 2, hpaSyncPeriod: '1s' });

export interface Stack extends Release {
  cluster: RehearsalCluster;
  operators: Operators;
  prefix: string;
  seckill: string;
  /** Stops every operator process and starts new ones with the same settings (they elect a new leader). */
  restartOperators(): Promise<void>;
  stop(): Promise<void>;
}

/** `helm install --wait` of the chart into a fresh namespace, then two operators electing a leader. */
export async function installStack(
  cluster: RehearsalCluster,
  tag: string,
  extra: string[] = [],
): Promise<Stack> {
  const id = randomBytes(3).toString('hex');
  const prefix = randomPrefix(tag);
  let pg: TestSchema | null = await testSchema();
  try {
    const env = { DATABASE_URL, REDIS_URL, STAMPEDE_PREFIX: prefix, DATABASE_SCHEMA: pg.schema };
    const rel = await installChart(cluster, {
      namespace: `${tag}-${id}`,
      release: `${tag}-${id}`,
      secret: { ...env, JWT_SECRET: randomBytes(24).toString('hex') },
      extra,
    });
    const opEnv = { ...env, OPERATOR_LIVE_REFRESH_MS: '1000' };
    const operators = await startOperators(cluster, rel, opEnv);
    const schema = pg;
    pg = null;
    const stack: Stack = {
      ...rel,
      cluster,
      operators,
      prefix,
      seckill: `${rel.fullname}-seckill`,
      async restartOperators() {
        await stack.operators.stop();
        stack.operators = await startOperators(cluster, rel, opEnv);
      },
      async stop() {
        await stack.operators.stop();
        const redis = newRedis();
        await dropRedisPrefix(redis, prefix).finally(() => redis.quit());
        await schema.drop();
      },
    };
    return stack;
  } finally {
    await pg?.drop();
  }
}

/** `kubectl apply -f -` of a SeckillActivity. */
export async function applyActivity(s: Stack, name: string, spec: Record<string, unknown>): Promise<void> {
  const manifest = { apiVersion: 'stampede.dev/v1alpha1', kind: 'SeckillActivity', metadata: { name }, spec };
  await kubectl(s.cluster, ['apply', '-n', s.namespace, '-f', '-'], stringify(manifest));
}

/** `kubectl delete` of a SeckillActivity, waiting until the operator's finalizer let it go. */
export async function kubectlDelete(s: Stack, name: string): Promise<void> {
  await kubectl(s.cluster, ['delete', 'seckillactivity', '-n', s.namespace, name, '--timeout=60s']);
}

const isReady = (p: k8s.V1Pod) =>
  p.status?.phase === 'Running' &&
  !p.metadata?.deletionTimestamp &&
  Boolean(p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** The component's pods of this release that are not terminating. */
export async function componentPods(s: Stack, component: string): Promise<k8s.V1Pod[]> {
  const core = s.cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
  const labelSelector = `app.kubernetes.io/instance=${s.release},app.kubernetes.io/component=${component}`;
  const list = await core.listNamespacedPod({ namespace: s.namespace, labelSelector });
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** The component's pods that are Running and Ready (and not terminating). */
export async function readyPods(s: Stack, component: string): Promise<k8s.V1Pod[]> {
  return (await componentPods(s, component)).filter(isReady);
}

/** Waits until the Deployment wants `n` replicas and exactly `n` of its pods are Running and Ready. */
export async function waitForPods(s: Stack, component: string, n: number, timeoutMs = 90_000): Promise<void> {
  const apps = s.cluster.kubeConfig().makeApiClient(k8s.AppsV1Api);
  const name = `${s.fullname}-${component}`;
  await waitFor(
    async () =>
      (await apps.readNamespacedDeployment({ name, namespace: s.namespace })).spec?.replicas === n &&
      (await readyPods(s, component)).length === n,
    `${name}: ${n} Running pods`,
    timeoutMs,
  );
}

export async function hpa(s: Stack, name = s.seckill): Promise<k8s.V2HorizontalPodAutoscaler> {
  const api = s.cluster.kubeConfig().makeApiClient(k8s.AutoscalingV2Api);
  return api.readNamespacedHorizontalPodAutoscaler({ name, namespace: s.namespace });
}

export interface Sample {
  /** When the answer arrived: the state it shows held at some moment before. */
  at: number;
  replicas: number;
  minReplicas: number;
  ready: number;
}

/** Polls the seckill Deployment, its HPA floor and its Running pods until stopped. */
export function record(s: Stack): { samples: Sample[]; stop(): Promise<void> } {
  const apps = s.cluster.kubeConfig().makeApiClient(k8s.AppsV1Api);
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const [d, h, pods] = await Promise.all([
        apps.readNamespacedDeployment({ name: s.seckill, namespace: s.namespace }),
        hpa(s),
        readyPods(s, 'seckill'),
      ]).catch(() => [null, null, null] as const);
      if (d && h && pods)
        samples.push({
          at: Date.now(),
          replicas: d.spec?.replicas ?? 0,
          minReplicas: h.spec?.minReplicas ?? 0,
          ready: pods.length,
        });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** The HPA's own Events (reason SuccessfulRescale carries "New size: N; reason: …"). */
export async function hpaEvents(s: Stack, name = s.seckill): Promise<string[]> {
  const core = s.cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
  const list = await core.listNamespacedEvent({
    namespace: s.namespace,
    fieldSelector: `involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name=${name}`,
  });
  return list.items.map((e) => `${e.reason}: ${e.message}`);
}
