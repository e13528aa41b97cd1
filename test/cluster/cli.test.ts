// `npm run cluster` as a user runs it (the built entry point): it prints a kubeconfig that reaches a cluster
// with the chart installed and a leading operator, and Ctrl-C (SIGINT) stops every process it started.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { DATABASE_URL, dropRedisPrefix, newRedis, randomPrefix, REDIS_URL, waitFor } from '../helpers/env.js';

const MAIN = new URL('../../dist/rehearsal/main.js', import.meta.url).pathname;
let pg: TestSchema;
let child: ChildProcess | null = null;
const prefix = randomPrefix('cli');

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  pg = await testSchema();
}, 60_000);
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  const redis = newRedis();
  await dropRedisPrefix(redis, prefix).finally(() => redis.quit());
  await pg?.drop();
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('prints a kubeconfig for a cluster with the chart and a leader, and stops everything on Ctrl-C', async () => {
  const env = {
    ...process.env,
    DATABASE_URL,
    REDIS_URL,
    DATABASE_SCHEMA: pg.schema,
    STAMPEDE_PREFIX: prefix,
  };
  const c = spawn(process.execPath, [MAIN], {
    env: {
      ...env,
      CLUSTER_NODES: '2',
      CLUSTER_NAMESPACE: `cli-${prefix.slice(4)}`,
      CLUSTER_RELEASE: 'stampede',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  let out = '';
  c.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(
    () => out.includes('Ctrl-C stops everything.') || c.exitCode !== null,
    'the cluster up',
    180_000,
  );
  expect(out).toMatch(/operator: 2 processes, leader stampede-operator-[01]/);
  const kubeconfig = /export KUBECONFIG=(\S+)/.exec(out)?.[1] as string;

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const nodes = (await kc.makeApiClient(k8s.CoreV1Api).listNode()).items;
  expect(nodes.map((n) => n.metadata?.name).sort()).toEqual(['kwok-node-0', 'kwok-node-1']);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const deployments = (await apps.listDeploymentForAllNamespaces()).items;
  expect(deployments.map((d) => d.metadata?.name).sort()).toEqual([
    'stampede-api',
    'stampede-operator',
    'stampede-orders',
    'stampede-seckill',
  ]);
  // helm's --wait is content with the one replica a Deployment without `replicas` starts with; the HPA
  // then brings each to its minReplicas.
  await waitFor(
    async () =>
      (await apps.listDeploymentForAllNamespaces()).items.every((d) => d.status?.readyReplicas === 2),
    'every Deployment at 2 Ready replicas',
    60_000,
  );

  const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(c.pid)], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter(Boolean);
  // etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and two operators.
  expect(pids.length).toBe(7);
  const exited = new Promise<number | null>((r) => c.once('exit', r));
  c.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(pids.filter(alive)).toEqual([]);
  expect(existsSync(kubeconfig)).toBe(false);
}, 240_000);
