// The tests against the rehearsal cluster's real node: one cluster (no kwok node: every pod is real) with
// the Stampede image imported, one database, Redis prefix and namespace of their own, the platform's
// servers relayed onto the node's veth, and the chart installed with the real-node values.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { Sequelize } from 'sequelize';
import { RehearsalCluster } from '../../rehearsal/cluster.js';
import { REAL_NODE_VALUES, stampedeArchive } from '../../rehearsal/node/image.js';
import type { RealNode } from '../../rehearsal/node/node.js';
import { CHART, fullnameOf, helm, KUBECTL, kubectl, REHEARSAL_VALUES } from '../../rehearsal/stack.js';
import { TokenService } from '../../services/core/auth/jwt.js';
import { createSequelize } from '../../services/core/db/connect.js';
import {
  AMQP_URL,
  DATABASE_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  newRedis,
  quietLog,
  randomPrefix,
  REDIS_URL,
} from '../helpers/env.js';

const run = promisify(execFile);

export interface NodeStack {
  cluster: RehearsalCluster;
  node: RealNode;
  namespace: string;
  release: string;
  fullname: string;
  prefix: string;
  /** The release's own database (the migration Job migrates it), seen from this machine. */
  db: Sequelize;
  tokens: TokenService;
  core: k8s.CoreV1Api;
  /** Milliseconds: cluster with the node Ready; image archive and import. */
  timings: { cluster: number; image: number };
  stop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Starts the cluster with its real node and imports the image; the namespace and Secret are ready. */
export async function startNodeStack(): Promise<NodeStack> {
  const t0 = Date.now();
  const cluster = await RehearsalCluster.start({ nodes: 0, hpaSyncPeriod: '1s', realNode: true });
  const node = cluster.node!;
  const id = randomBytes(3).toString('hex');
  const database = `stampede_node_${id}`;
  const admin = createSequelize({ url: DATABASE_URL, log: quietLog });
  let db: Sequelize | null = null;
  try {
    const cluster_ms = Date.now() - t0;
    await node.importImage(await stampedeArchive(join(cluster.dir, 'stampede-image.tar')));
    const image_ms = Date.now() - t0 - cluster_ms;
    await admin.query(`CREATE DATABASE ${database}`);
    db = createSequelize({ url: withDatabase(DATABASE_URL, database), log: quietLog });
    const namespace = `node-${id}`;
    const secret = randomBytes(24).toString('hex');
    const core = cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'stampede-secrets' },
        stringData: {
          DATABASE_URL: await node.expose(withDatabase(DATABASE_URL, database)),
          REDIS_URL: await node.expose(REDIS_URL),
          AMQP_URL: await node.expose(AMQP_URL),
          JWT_SECRET: secret,
          PAYMENT_WEBHOOK_SECRET: randomBytes(24).toString('hex'),
        },
      },
    });
    const prefix = randomPrefix('node');
    const release = `node-${id}`;
    const ownDb = db;
    return {
      cluster,
      node,
      namespace,
      release,
      fullname: fullnameOf(release),
      prefix,
      db,
      tokens: new TokenService(secret),
      core,
      timings: { cluster: cluster_ms, image: image_ms },
      async stop() {
        await cluster.stop();
        await ownDb.close();
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.close();
        const redis = newRedis();
        await dropRedisPrefix(redis, prefix).finally(() => redis.quit());
        await dropAmqpPrefix(prefix).catch(() => undefined);
      },
    };
  } catch (err) {
    await cluster.stop();
    await db?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.close();
    throw err;
  }
}

/** What a failed install leaves to read: the pods' states, the namespace's Events, the kubelet's log. */
async function diagnose(s: NodeStack): Promise<string> {
  const get = (args: string[]) => kubectl(s.cluster, args).catch((e: Error) => e.message);
  return [
    await get(['get', 'pods,jobs', '-n', s.namespace, '-o', 'wide']),
    await get(['get', 'events', '-n', s.namespace, '--sort-by=.lastTimestamp']),
    s.node.kubeletLog().slice(-6000),
  ].join('\n');
}

/** `helm install --wait` of the chart with the rehearsal and real-node values. */
export async function installOnNode(s: NodeStack, extra: string[] = []): Promise<void> {
  await helm(s.cluster, [
    'install',
    s.release,
    CHART,
    '--namespace',
    s.namespace,
    '-f',
    REHEARSAL_VALUES,
    '-f',
    REAL_NODE_VALUES,
    '--set',
    `env.STAMPEDE_PREFIX=${s.prefix}`,
    '--wait',
    '--timeout',
    '6m',
    ...extra,
  ]).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await diagnose(s)}`);
  });
}

export const podsOf = async (s: NodeStack, component?: string): Promise<k8s.V1Pod[]> =>
  (
    await s.core.listNamespacedPod({
      namespace: s.namespace,
      labelSelector: `app.kubernetes.io/instance=${s.release}${component ? `,app.kubernetes.io/component=${component}` : ''}`,
    })
  ).items;

export const isReady = (p: k8s.V1Pod): boolean =>
  p.status?.phase === 'Running' &&
  !p.metadata?.deletionTimestamp &&
  Boolean(p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));

/** `kubectl exec` in a pod's one container (through the API server and the kubelet); answers its stdout. */
export async function exec(s: NodeStack, pod: string, command: string[]): Promise<string> {
  const args = ['exec', '--kubeconfig', s.cluster.kubeconfigPath, '-n', s.namespace, pod, '--', ...command];
  return (await run(KUBECTL, args)).stdout;
}
