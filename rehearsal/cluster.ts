import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { metricsApiObjects, MetricsServer } from './metrics.js';
import { SERVICE_CIDR } from './node/network.js';
import { RealNode } from './node/node.js';
import { etcdArgs, freePort, httpsStatus, launch, repoRoot, stopProc, until, type Proc } from './proc.js';

/**
 * A whole control plane on this machine without containers: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler (all built by `npm run tools` into .tools/bin), kwok playing the kubelet for `nodes` fake
 * nodes, and a metrics.k8s.io server whose pod CPU the caller sets. Deployments, ReplicaSets, the HPA,
 * PodDisruptionBudgets and Jobs are the real controllers; pods are scheduled for real and then simulated.
 */
export interface RehearsalOptions {
  nodes?: number;
  /** `--horizontal-pod-autoscaler-sync-period` (the real default is 15s). */
  hpaSyncPeriod?: string;
  /** Directory for etcd's data, certificates and kubeconfig; a temporary one (removed on stop) if unset. */
  dir?: string;
  /** Also one node run by a real kubelet and containerd (rehearsal/node/, docs/real-node.md). */
  realNode?: boolean;
  /** Image archives (docker or OCI) imported into the real node's containerd before its kubelet starts. */
  images?: string[];
}

/** A fake node's size and placement; unset fields take addNodes' defaults. */
export interface NodeShape {
  cpu?: string;
  memory?: string;
  labels?: Record<string, string>;
  taints?: k8s.V1Taint[];
}

const BIN = join(repoRoot(), '.tools/bin');
const READY_MS = 120_000;
export const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export class RehearsalCluster {
  private readonly procs: Proc[] = [];
  private readonly token = randomBytes(24).toString('hex');
  apiPort = 0;
  private etcdUrl = '';
  /** The real node, when asked for. */
  node: RealNode | null = null;
  readonly metrics: MetricsServer;
  metricsPort = 0;

  private constructor(
    readonly dir: string,
    private readonly temporary: boolean,
  ) {
    this.metrics = new MetricsServer(() => this.kubeConfig());
  }

  static async start(opts: RehearsalOptions = {}): Promise<RehearsalCluster> {
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'stampede-rehearsal-'));
    mkdirSync(join(dir, 'certs'), { recursive: true });
    const c = new RehearsalCluster(dir, !opts.dir);
    try {
      if (opts.realNode) c.node = await RealNode.prepare(dir);
      await c.boot(opts);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  get server(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  /** The cluster admin's kubeconfig (the same identity every component uses). */
  kubeConfig(): k8s.KubeConfig {
    return this.kubeConfigAt(this.server);
  }

  /** The same identity with the API server at another address (the real node's end of its veth). */
  kubeConfigAt(server: string): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'rehearsal', server, skipTLSVerify: true }],
      users: [{ name: 'admin', token: this.token }],
      contexts: [{ name: 'rehearsal', cluster: 'rehearsal', user: 'admin' }],
      currentContext: 'rehearsal',
    });
    return kc;
  }

  get kubeconfigPath(): string {
    return join(this.dir, 'kubeconfig.yaml');
  }

  private async boot(opts: RehearsalOptions): Promise<void> {
    this.apiPort = await freePort();
    this.metricsPort = await freePort();
    writeFileSync(join(this.dir, 'tokens.csv'), `${this.token},admin,uid-admin,"system:masters"\n`);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    await this.startEtcd();
    await this.startApiServer();
    writeFileSync(this.kubeconfigPath, this.kubeConfig().exportConfig());
    await Promise.all([
      this.startComponent('kube-controller-manager', [
        `--horizontal-pod-autoscaler-sync-period=${opts.hpaSyncPeriod ?? '15s'}`,
        `--service-account-private-key-file=${join(this.dir, 'sa.key')}`,
        `--root-ca-file=${this.servingCert}`,
        '--use-service-account-credentials=false',
      ]),
      this.startComponent('kube-scheduler', []),
      this.startMetrics(),
    ]);
    this.startKwok();
    await this.addNodes(opts.nodes ?? 1);
    await this.node?.start(this, opts.images);
  }

  private async startEtcd(): Promise<void> {
    const [client, peer] = [await freePort(), await freePort()];
    this.etcdUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const etcd = this.spawn('etcd', etcdArgs('rehearsal', join(this.dir, 'etcd'), this.etcdUrl, peerUrl));
    const healthy = () => fetch(`${this.etcdUrl}/health`).then((r) => r.ok);
    await until('etcd', healthy, READY_MS, etcd);
  }

  private get servingCert(): string {
    return join(this.dir, 'certs', 'apiserver.crt');
  }

  private async startApiServer(): Promise<void> {
    const api = this.spawn('kube-apiserver', [
      `--etcd-servers=${this.etcdUrl}`,
      `--cert-dir=${join(this.dir, 'certs')}`,
      `--secure-port=${this.apiPort}`,
      '--bind-address=127.0.0.1',
      // The real node's pods reach the API server at the host's end of its veth (through a relay): the
      // self-signed serving certificate names the advertised address, and the `kubernetes` Service's
      // endpoint is it.
      `--advertise-address=${this.node?.net.hostIp ?? '127.0.0.1'}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // logs, exec and port-forward to the real node's kubelet at its InternalIP (it has no resolvable name).
      '--kubelet-preferred-address-types=InternalIP',
      '--allow-privileged=true',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--v=0',
    ]);
    const ready = async () => (await httpsStatus(`${this.server}/readyz`, this.token)) === 200;
    await until('kube-apiserver', ready, READY_MS, api);
  }

  /** kube-controller-manager or kube-scheduler: admin kubeconfig, no leader election, /healthz on loopback. */
  private async startComponent(name: string, extra: string[]): Promise<void> {
    const port = await freePort();
    const kc = this.kubeconfigPath;
    const p = this.spawn(name, [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      `--secure-port=${port}`,
      '--bind-address=127.0.0.1',
      '--leader-elect=false',
      '--v=0',
      ...extra,
    ]);
    const healthy = async () => (await httpsStatus(`https://127.0.0.1:${port}/healthz`)) === 200;
    await until(name, healthy, READY_MS, p);
  }

  private async startMetrics(): Promise<void> {
    const tls = {
      key: readFileSync(join(this.dir, 'certs', 'apiserver.key')),
      cert: readFileSync(this.servingCert),
    };
    await this.metrics.listen(this.metricsPort, tls);
    const client = k8s.KubernetesObjectApi.makeApiClient(this.kubeConfig());
    for (const o of metricsApiObjects(this.metricsPort)) await client.create(o);
    const registration = this.kubeConfig().makeApiClient(k8s.ApiregistrationV1Api);
    const available = async () =>
      Boolean(
        (await registration.readAPIService({ name: 'v1beta1.metrics.k8s.io' })).status?.conditions?.some(
          (c) => c.type === 'Available' && c.status === 'True',
        ),
      );
    await until('metrics.k8s.io APIService', available, READY_MS);
  }

  /** kwok with its built-in stages manages the nodes annotated as fake: heartbeats, pod IPs, Ready pods. */
  private startKwok(): void {
    this.spawn('kwok', [
      `--kubeconfig=${this.kubeconfigPath}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${FAKE_NODE_ANNOTATION}=fake`,
      '--cidr=10.244.0.1/16',
      '--node-ip=10.0.0.1',
      '--node-lease-duration-seconds=40',
    ]);
  }

  /**
   * Adds fake nodes and waits until kwok reports them Ready. By default 32 CPUs, 256 GiB, 1 TiB disk and
   * 110 pods each; `shape` makes smaller ones (a node pool with room for a few pods) with labels and taints.
   */
  async addNodes(count: number, shape: NodeShape = {}): Promise<string[]> {
    const core = this.kubeConfig().makeApiClient(k8s.CoreV1Api);
    const have = (await core.listNode()).items.length;
    const names = Array.from({ length: count }, (_, i) => `kwok-node-${have + i}`);
    // Ephemeral storage too: the chart's containers request it, and a node that lists none fits no pod.
    const resources = {
      cpu: shape.cpu ?? '32',
      memory: shape.memory ?? '256Gi',
      pods: '110',
      'ephemeral-storage': '1Ti',
    };
    for (const name of names) {
      await core.createNode({
        body: {
          metadata: {
            name,
            annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
            labels: {
              'kubernetes.io/hostname': name,
              'kubernetes.io/os': 'linux',
              type: 'kwok',
              ...shape.labels,
            },
          },
          spec: shape.taints ? { taints: shape.taints } : {},
          status: { allocatable: resources, capacity: resources },
        },
      });
    }
    const kwok = this.procs.find((p) => p.name === 'kwok');
    const ready = async () => {
      const nodes = (await core.listNode()).items.filter((n) => names.includes(n.metadata?.name ?? ''));
      return nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    };
    await until(`nodes ${names.join(', ')}`, ready, READY_MS, kwok);
    return names;
  }

  private spawn(name: string, args: string[]): Proc {
    const p = launch(name, join(BIN, name), args);
    this.procs.push(p);
    return p;
  }

  /** Stops every component, newest first, and removes a temporary directory. */
  async stop(): Promise<void> {
    await this.node?.stop();
    await this.metrics.close();
    for (const p of [...this.procs].reverse()) await stopProc(p);
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }
}
