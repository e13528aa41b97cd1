import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { etcdArgs, freePort, httpsStatus } from './proc.js';

/**
 * envtest for TypeScript: a real etcd and kube-apiserver (built by `npm run tools` into .tools/bin) on free
 * loopback ports, with their own certificates (the API server generates its serving certificate), static
 * token authentication and RBAC on. Tests get a KubeConfig per identity.
 */
const BIN = new URL('../.tools/bin/', import.meta.url).pathname;

async function until(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  proc?: ChildProcess,
  log?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (proc && proc.exitCode !== null)
      throw new Error(`${what}: process exited with ${proc.exitCode}\n${log?.() ?? ''}`);
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms\n${log?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

export interface Identity {
  user: string;
  groups: string[];
}

export class EnvTest {
  private etcd: ChildProcess | null = null;
  private apiserver: ChildProcess | null = null;
  private apiLog = '';
  private readonly tokens = new Map<string, string>();
  private apiPort = 0;

  private constructor(private readonly dir: string) {}

  /**
   * Starts etcd and kube-apiserver. `identities` become static tokens (besides the admin). With `audit`, the
   * API server writes an audit log of every SeckillActivity request (read with `auditEvents`).
   */
  static async start(identities: Identity[] = [], opts: { audit?: boolean } = {}): Promise<EnvTest> {
    const env = new EnvTest(mkdtempSync(join(tmpdir(), 'stampede-envtest-')));
    env.audit = opts.audit ?? false;
    const lines = [{ user: 'admin', groups: ['system:masters'] }, ...identities].map((id, i) => {
      const token = randomBytes(24).toString('hex');
      env.tokens.set(id.user, token);
      return `${token},${id.user},uid-${i},"${id.groups.join(',')}"`;
    });
    writeFileSync(join(env.dir, 'tokens.csv'), `${lines.join('\n')}\n`);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(env.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(env.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    await env.startEtcd();
    env.apiPort = await freePort();
    await env.startApiServer();
    return env;
  }

  private etcdUrl = '';
  private audit = false;

  private auditFlags(): string[] {
    if (!this.audit) return [];
    const policy = join(this.dir, 'audit-policy.yaml');
    writeFileSync(
      policy,
      [
        'apiVersion: audit.k8s.io/v1',
        'kind: Policy',
        'omitStages: [RequestReceived]',
        'rules:',
        '  - level: Metadata',
        '    resources: [{group: stampede.dev, resources: [seckillactivities, seckillactivities/status]}]',
        '  - level: None',
        '',
      ].join('\n'),
    );
    return [
      `--audit-policy-file=${policy}`,
      `--audit-log-path=${join(this.dir, 'audit.log')}`,
      '--audit-log-mode=blocking',
      '--audit-log-format=json',
    ];
  }

  /** The audit log's events so far (API server started with `audit`). */
  auditEvents(): AuditEvent[] {
    let text = '';
    try {
      text = readFileSync(join(this.dir, 'audit.log'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent);
  }

  private async startEtcd(): Promise<void> {
    const [client, peer] = [await freePort(), await freePort()];
    this.etcdUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    this.etcd = spawn(join(BIN, 'etcd'), etcdArgs('envtest', join(this.dir, 'etcd'), this.etcdUrl, peerUrl), {
      stdio: 'ignore',
    });
    await until(
      'etcd',
      async () =>
        await fetch(`${this.etcdUrl}/health`).then(
          (r) => r.ok,
          () => false,
        ),
      20_000,
      this.etcd,
    );
  }

  private async startApiServer(): Promise<void> {
    const certs = join(this.dir, 'certs');
    mkdirSync(certs, { recursive: true });
    this.apiLog = '';
    this.apiserver = spawn(
      join(BIN, 'kube-apiserver'),
      [
        `--etcd-servers=${this.etcdUrl}`,
        `--cert-dir=${certs}`,
        `--secure-port=${this.apiPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        '--service-account-issuer=https://kubernetes.default.svc',
        `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
        `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--disable-admission-plugins=ServiceAccount',
        '--v=0',
        ...this.auditFlags(),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.apiserver.stderr?.on(
      'data',
      (c: Buffer) => (this.apiLog = (this.apiLog + c.toString()).slice(-20_000)),
    );
    const token = this.tokens.get('admin') as string;
    await until(
      'kube-apiserver',
      async () => (await httpsStatus(`${this.server}/readyz`, token)) === 200,
      90_000,
      this.apiserver,
      () => this.apiLog,
    );
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  /**
   * A KubeConfig for an identity given at start ('admin' is a cluster admin); `server` points it elsewhere
   * (a fault proxy in front of the API server).
   */
  kubeConfig(user = 'admin', server = this.server): k8s.KubeConfig {
    const token = this.tokens.get(user);
    if (!token) throw new Error(`no identity ${user}`);
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'envtest', server, skipTLSVerify: true }],
      users: [{ name: user, token }],
      contexts: [{ name: user, cluster: 'envtest', user }],
      currentContext: user,
    });
    return kc;
  }

  /** Writes a kubeconfig file for a child process (the operator under test). */
  kubeConfigFile(user = 'admin', server = this.server): string {
    const file = join(this.dir, `kubeconfig-${user}-${new URL(server).port}.yaml`);
    writeFileSync(file, this.kubeConfig(user, server).exportConfig());
    return file;
  }

  get port(): number {
    return this.apiPort;
  }

  /** Applies every document of a YAML file with server-side apply; waits for CRDs to be established. */
  async apply(path: string): Promise<void> {
    const client = k8s.KubernetesObjectApi.makeApiClient(this.kubeConfig());
    // loadAllYaml turns manifests into client-node's typed models: handing it plain objects would let its
    // serializer drop the fields whose JSON names differ from the model's (`default`, `x-kubernetes-*`).
    for (const obj of k8s.loadAllYaml(readFileSync(path, 'utf8')) as (k8s.KubernetesObject | null)[]) {
      if (!obj) continue;
      await client.patch(obj, undefined, undefined, 'envtest', true, k8s.PatchStrategy.ServerSideApply);
      if (obj.kind === 'CustomResourceDefinition') await this.established(obj.metadata?.name as string);
    }
  }

  private async established(name: string): Promise<void> {
    const api = this.kubeConfig().makeApiClient(k8s.ApiextensionsV1Api);
    await until(
      `CRD ${name}`,
      async () => {
        const crd = await api.readCustomResourceDefinition({ name });
        return Boolean(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
      },
      30_000,
    );
  }

  /** Stops and starts kube-apiserver on the same port (etcd keeps the data). */
  async restartApiServer(): Promise<void> {
    await stop(this.apiserver);
    await this.startApiServer();
  }

  async stop(): Promise<void> {
    await stop(this.apiserver);
    await stop(this.etcd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stop(p: ChildProcess | null): Promise<void> {
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
