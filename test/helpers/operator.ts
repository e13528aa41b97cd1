import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { listen } from '../../services/core/http/server.js';
import { loadOperatorConfig } from '../../operator/config.js';
import type { Redis } from 'ioredis';
import { EnvTest } from '../../rehearsal/envtest.js';
import { testSchema, type TestSchema } from './db.js';
import { buildOperator, type Operator } from '../../operator/service.js';
import { dropAmqpPrefix, dropRedisPrefix, newRedis, quietLog, randomPrefix } from './env.js';

import { Cluster, GVR } from './cluster.js';

export { Cluster, GVR, SCALABLE, type PodShape } from './cluster.js';
/** The SeckillActivity CRD, as every test API server gets it. */
export const CRD = new URL('../../k8s/crd/seckillactivities.yaml', import.meta.url).pathname;

export interface RunningOperator {
  operator: Operator;
  server: Server;
  stop(): Promise<void>;
}

/** `now`: the operator's clock (a skewed one for leader election tests); `server`: a proxy to reach the API. */
export async function startOperator(
  env: EnvTest,
  prefix: string,
  schema: string,
  extra: Record<string, string> = {},
  opts: { now?: () => number; server?: string } = {},
): Promise<RunningOperator> {
  const config = loadOperatorConfig({
    ...process.env,
    KUBECONFIG: env.kubeConfigFile('admin', opts.server),
    LEADER_ELECTION: 'false',
    OPERATOR_LIVE_REFRESH_MS: '300',
    ...extra,
    STAMPEDE_PREFIX: prefix,
    DATABASE_SCHEMA: schema,
    PORT: '0',
  });
  const operator = buildOperator(config, quietLog, opts.now);
  await operator.start();
  const server = await listen(operator.app, 0, '127.0.0.1');
  return {
    operator,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of operator.closers) await c.close().catch(() => undefined);
    },
  };
}

export interface Sale {
  startInMs: number;
  lengthMs: number;
  stock?: number;
  targets?: { name: string; minReplicas: number; maxReplicas: number }[];
  preheatLead?: string;
  scalingLead?: string;
  cooldown?: string;
}

export function saleSpec(s: Sale): Record<string, unknown> {
  const start = Date.now() + s.startInMs;
  return {
    product: {
      sku: `SKU-${start}-${Math.random().toString(36).slice(2, 6)}`,
      name: 'Operator sale',
      price: '9.90',
    },
    stock: s.stock ?? 3,
    window: { start: new Date(start).toISOString(), end: new Date(start + s.lengthMs).toISOString() },
    paymentWindow: '10m',
    preheat: { leadTime: s.preheatLead ?? '2s' },
    scaling: { leadTime: s.scalingLead ?? '3s', cooldown: s.cooldown ?? '2s', targets: s.targets ?? [] },
  };
}

export interface CrdCluster {
  env: EnvTest;
  cluster: Cluster;
  stop(): Promise<void>;
}

/** A real API server with the CRD and one namespace `<tag>-…`, for the tests of the schema alone. */
/** Writes `status` of a SeckillActivity through the status subresource (a merge patch); the stored object. */
export const patchStatusOf = (cluster: Cluster, name: string, status: Record<string, unknown>) =>
  cluster.objects.patchNamespacedCustomObjectStatus(
    { ...GVR, namespace: cluster.ns, name, body: { status } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  ) as Promise<{ status?: Record<string, unknown> }>;

/** The API server's message for the refusal of `create(body)` (its JSON body escapes `<`). */
export async function refusalOf<B>(create: (body: B) => Promise<unknown>, body: B): Promise<string> {
  const err = await create(body).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  const text = String((err as { body?: string }).body ?? err);
  try {
    return (JSON.parse(text) as { message: string }).message;
  } catch {
    return text;
  }
}

export async function crdCluster(tag: string): Promise<CrdCluster> {
  const env = await EnvTest.start();
  try {
    await env.apply(CRD);
    const cluster = new Cluster(env, `${tag}-${Date.now()}`);
    await cluster.namespace();
    return { env, cluster, stop: () => env.stop() };
  } catch (err) {
    await env.stop();
    throw err;
  }
}

export interface OperatorEnv {
  env: EnvTest;
  pg: TestSchema;
  redis: Redis;
  prefix: string;
  /** A fresh namespace (a Deployment per name in `deployments`, 2 replicas) and its Cluster view. */
  namespace(tag: string, deployments?: string[]): Promise<Cluster>;
  /** An in-process operator watching `ns` (all namespaces if ''), stopped with the env. */
  operator(
    ns: string,
    extra?: Record<string, string>,
    opts?: { now?: () => number; server?: string },
  ): Promise<RunningOperator>;
  stop(): Promise<void>;
}

/**
 * One API server (with the CRD, and `crds`: other APIs the cluster serves), Postgres schema and prefix for a
 * file's tests; operators per test.
 */
export async function operatorEnv(
  tag: string,
  opts: { audit?: boolean; crds?: string[] } = {},
): Promise<OperatorEnv> {
  const env = await EnvTest.start([], opts);
  await env.apply(CRD);
  for (const crd of opts.crds ?? []) await env.apply(crd);
  const prefix = randomPrefix(tag);
  const pg = await testSchema();
  const redis = newRedis();
  const running: RunningOperator[] = [];
  let n = 0;
  return {
    env,
    pg,
    redis,
    prefix,
    async namespace(t, deployments = []) {
      const cluster = new Cluster(env, `${t}-${++n}-${Date.now().toString(36)}`);
      await cluster.namespace();
      for (const d of deployments) await cluster.deployment(d, 2);
      return cluster;
    },
    async operator(ns, extra = {}, o = {}) {
      const op = await startOperator(env, prefix, pg.schema, { WATCH_NAMESPACE: ns, ...extra }, o);
      running.push(op);
      const stop = op.stop.bind(op);
      let stopped = false;
      op.stop = async () => {
        if (stopped) return;
        stopped = true;
        await stop();
      };
      return op;
    },
    async stop() {
      for (const op of running) await op.stop();
      await env.stop();
      await dropRedisPrefix(redis, prefix);
      await redis.quit();
      await pg.drop();
    },
  };
}

/**
 * Applies a CRD without the stock maximum (one from another release, say), so a spec can be stored that the
 * operator's own schema refuses: `stock: 200_000_000`.
 */
export async function applyLooseCrd(env: EnvTest): Promise<void> {
  const strict = readFileSync(CRD, 'utf8');
  const loose = strict.replace(
    'stock: { type: integer, minimum: 0, maximum: 100000000 }',
    'stock: { type: integer, minimum: 0 }',
  );
  if (loose === strict) throw new Error('the CRD stock rule moved: update applyLooseCrd');
  const file = join(mkdtempSync(join(tmpdir(), 'stampede-crd-')), 'crd.yaml');
  writeFileSync(file, loose);
  await env.apply(file);
}
export const INVALID_STOCK = 200_000_000;

/** The operator's `stampede_operator_reconcile_total` (all results). */
export async function reconcileCount(op: RunningOperator): Promise<number> {
  const text = await op.operator.registry.metrics();
  return [...text.matchAll(/^stampede_operator_reconcile_total\{[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

export interface OperatorSuite {
  env: EnvTest;
  pg: TestSchema;
  redis: Redis;
  cluster: Cluster;
  op: RunningOperator;
  prefix: string;
  stop(): Promise<void>;
}

/**
 * What every operator suite needs: a real API server with the CRD, its own Postgres schema and prefix, a
 * namespace with one target Deployment (2 replicas), and an operator watching that namespace.
 */
export async function operatorSuite(tag: string, deployment: string): Promise<OperatorSuite> {
  const env = await EnvTest.start();
  await env.apply(CRD);
  const prefix = randomPrefix(tag);
  const pg = await testSchema();
  const redis = newRedis();
  const cluster = new Cluster(env, `${tag}-${Date.now()}`);
  await cluster.namespace();
  await cluster.deployment(deployment, 2);
  const op = await startOperator(env, prefix, pg.schema, { WATCH_NAMESPACE: cluster.ns });
  return {
    env,
    pg,
    redis,
    cluster,
    op,
    prefix,
    async stop() {
      await op.stop();
      await env.stop();
      await dropAmqpPrefix(prefix);
      await dropRedisPrefix(redis, prefix);
      await redis.quit();
      await pg.drop();
    },
  };
}
