import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { RehearsalCluster } from './cluster.js';
import { inheritedEnv } from './config.js';
import { freePort, launch, repoRoot, stopProc, until, type Proc } from './proc.js';

/**
 * The Stampede chart and operator in a rehearsal cluster: `helm install --wait` of charts/stampede (kwok
 * simulates its pods, so the image never pulls) and real operator processes beside it, in leader-election
 * mode, with the identity of the chart's own ServiceAccount (so the chart's RBAC is what they are allowed).
 */
const run = promisify(execFile);
const ROOT = repoRoot();
export const HELM = join(ROOT, '.tools/bin/helm');
export const KUBECTL = join(ROOT, '.tools/bin/kubectl');
export const CHART = join(ROOT, 'charts/stampede');
export const REHEARSAL_VALUES = join(CHART, 'ci/rehearsal-values.yaml');

export interface Release {
  namespace: string;
  release: string;
  /** The chart's fullname: the prefix of every object it creates (`<fullname>-seckill`). */
  fullname: string;
}

/** The chart's fullname for a release (stampede.fullname in _helpers.tpl). */
export function fullnameOf(release: string): string {
  return (release.includes('stampede') ? release : `${release}-stampede`).slice(0, 54).replace(/-+$/, '');
}

/** Runs helm against the cluster; answers its output, or throws with helm's stderr. */
export async function helm(cluster: RehearsalCluster, args: string[]): Promise<string> {
  const { stdout } = await run(HELM, [...args, '--kubeconfig', cluster.kubeconfigPath], {
    maxBuffer: 16 << 20,
  });
  return stdout;
}

export async function kubectl(cluster: RehearsalCluster, args: string[], input?: string): Promise<string> {
  const child = execFile(KUBECTL, [...args, '--kubeconfig', cluster.kubeconfigPath], { maxBuffer: 16 << 20 });
  const out = new Promise<string>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`kubectl ${args.join(' ')}: ${code}\n${stderr}`)),
    );
  });
  child.stdin?.end(input ?? '');
  return out;
}

/**
 * Creates the namespace and the chart's Secret (`existingSecret`) holding the platform's URLs, then
 * `helm install --wait` with the rehearsal values (and `extra` helm arguments such as `--set`).
 */
export async function installChart(
  cluster: RehearsalCluster,
  r: { namespace: string; release: string; secret: Record<string, string>; extra?: string[] },
): Promise<Release> {
  const core = cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: r.namespace } } });
  await core.createNamespacedSecret({
    namespace: r.namespace,
    body: { metadata: { name: 'stampede-secrets' }, stringData: r.secret },
  });
  await helm(cluster, [
    'install',
    r.release,
    CHART,
    '--namespace',
    r.namespace,
    '-f',
    REHEARSAL_VALUES,
    '--wait',
    '--timeout',
    '5m',
    ...(r.extra ?? []),
  ]);
  return { namespace: r.namespace, release: r.release, fullname: fullnameOf(r.release) };
}

/** A kubeconfig file for the chart's operator ServiceAccount (a TokenRequest, valid for `hours`). */
export async function operatorKubeconfig(
  cluster: RehearsalCluster,
  rel: Release,
  hours = 12,
): Promise<string> {
  const core = cluster.kubeConfig().makeApiClient(k8s.CoreV1Api);
  const sa = `${rel.fullname}-operator`;
  const tr = await core.createNamespacedServiceAccountToken({
    name: sa,
    namespace: rel.namespace,
    body: { spec: { audiences: [], expirationSeconds: hours * 3600 } },
  });
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'rehearsal', server: cluster.server, skipTLSVerify: true }],
    users: [{ name: sa, token: tr.status?.token }],
    contexts: [{ name: sa, cluster: 'rehearsal', user: sa }],
    currentContext: sa,
  });
  const file = join(cluster.dir, `kubeconfig-${rel.namespace}-${sa}.yaml`);
  writeFileSync(file, kc.exportConfig());
  return file;
}

export interface Operators {
  procs: Proc[];
  /** Each process' HTTP port (/metrics, /healthz), in the order of procs. */
  ports: number[];
  /** The Lease's holder (the POD_NAME of the leading process), once one leads. */
  leader(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `replicas` operator processes (the built dist/operator/main.js) watching the release namespace,
 * electing a leader through the chart's Lease. `env` adds the platform's settings (DATABASE_URL,
 * REDIS_URL, STAMPEDE_PREFIX, DATABASE_SCHEMA…).
 */
export async function startOperators(
  cluster: RehearsalCluster,
  rel: Release,
  env: Record<string, string>,
  replicas = 2,
): Promise<Operators> {
  const main = join(ROOT, 'dist/operator/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm test does)`);
  const kubeconfig = await operatorKubeconfig(cluster, rel);
  const lease = `${rel.fullname}-operator`;
  const ports: number[] = [];
  for (let i = 0; i < replicas; i++) ports.push(await freePort());
  const procs = Array.from({ length: replicas }, (_, i) =>
    launch(`operator-${i}`, process.execPath, [main], {
      ...inheritedEnv(),
      ...env,
      KUBECONFIG: kubeconfig,
      WATCH_NAMESPACE: rel.namespace,
      LEADER_ELECTION: 'true',
      LEASE_NAMESPACE: rel.namespace,
      LEASE_NAME: lease,
      POD_NAME: `${lease}-${i}`,
      PORT: String(ports[i]),
    }),
  );
  const coordination = cluster.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
  const holder = async () =>
    (await coordination.readNamespacedLease({ name: lease, namespace: rel.namespace })).spec
      ?.holderIdentity ?? '';
  const leader = async () => {
    await until('operator leader', async () => (await holder()) !== '', 60_000, procs[0]);
    return holder();
  };
  return {
    procs,
    ports,
    leader,
    async stop() {
      await Promise.all(procs.map((p) => stopProc(p)));
    },
  };
}
