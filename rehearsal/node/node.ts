import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stopProc, until, type Proc } from '../proc.js';
import { cleanupNode } from './cleanup.js';
import type { NodeNetwork, NodeState } from './state.js';
import { importImage, startContainerd, type Containerd } from './containerd.js';
import { startKubelet } from './kubelet.js';
import { claimSlot, createNetwork, releaseSlot, routeKubernetesService } from './network.js';
import { pauseArchive } from './pause.js';
import { Relay } from './relay.js';
import { sh } from './sh.js';

/** What the node needs from the control plane (rehearsal/cluster.ts). */
export interface ControlPlane {
  apiPort: number;
  /** The admin identity, for a kubeconfig whose server is the host's end of the veth. */
  kubeConfigAt(server: string): k8s.KubeConfig;
}

const READY_MS = 180_000;

/**
 * One node run by a real kubelet and containerd (with runc), in a network namespace of its own, beside the
 * rehearsal cluster's kwok nodes. Pods scheduled onto it (the real-node values' nodeSelector and
 * toleration) pull nothing: their images are imported archives.
 */
export class RealNode {
  private readonly relays: Relay[] = [];
  private containerd: Containerd | null = null;
  private kubelet: Proc | null = null;
  readonly name: string;
  /** Milliseconds from the kubelet's start to the Node's Ready condition. */
  readyMs = 0;

  private constructor(
    readonly dir: string,
    readonly net: NodeNetwork,
  ) {
    this.name = `stampede-node-${net.id}`;
  }

  get state(): NodeState {
    return { pid: process.pid, dir: this.dir, net: this.net, cgroupRoot: `stampede-${this.net.id}` };
  }

  /** Claims a network slot and creates the namespace (before the API server: its certificate names hostIp). */
  static async prepare(clusterDir: string): Promise<RealNode> {
    const dir = join(clusterDir, 'node');
    mkdirSync(dir, { recursive: true });
    const node = new RealNode(dir, await claimSlot(dir));
    try {
      await createNetwork(node.net);
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  /** containerd with the pause image (and `images`, docker or OCI archives), then the kubelet, until Ready. */
  async start(cp: ControlPlane, images: string[] = []): Promise<void> {
    this.relays.push(
      await Relay.listen(this.net.hostIp, cp.apiPort, { host: '127.0.0.1', port: cp.apiPort }),
    );
    await routeKubernetesService(this.net, cp.apiPort);
    const kubeconfig = join(this.dir, 'kubeconfig.yaml');
    writeFileSync(kubeconfig, cp.kubeConfigAt(`https://${this.net.hostIp}:${cp.apiPort}`).exportConfig());
    this.containerd = await startContainerd(this.dir, this.net);
    for (const archive of [await pauseArchive(), ...images]) await importImage(this.containerd, archive);
    const t0 = Date.now();
    this.kubelet = startKubelet({
      dir: this.dir,
      net: this.net,
      nodeName: this.name,
      cgroupRoot: this.state.cgroupRoot,
      socket: this.containerd.socket,
      kubeconfig,
    });
    const core = cp.kubeConfigAt(`https://127.0.0.1:${cp.apiPort}`).makeApiClient(k8s.CoreV1Api);
    const ready = async () =>
      Boolean(
        (await core.readNode({ name: this.name })).status?.conditions?.some(
          (c) => c.type === 'Ready' && c.status === 'True',
        ),
      );
    await until(`real node ${this.name}`, ready, READY_MS, this.kubelet);
    this.readyMs = Date.now() - t0;
  }

  /** Imports an image archive into the node's containerd (e.g. `npm run image -- --docker-archive`). */
  async importImage(archive: string): Promise<void> {
    if (!this.containerd) throw new Error('real node: not started');
    await importImage(this.containerd, archive);
  }

  /** The tail of the kubelet's and containerd's output (for a test's failure message). */
  kubeletLog(): string {
    return `kubelet:\n${this.kubelet?.log() ?? ''}\ncontainerd:\n${this.containerd?.proc.log() ?? ''}`;
  }

  /** `ctr` against the node's containerd, in the CRI's namespace (`tasks ls` names each container's PID). */
  async ctr(args: string[]): Promise<string> {
    if (!this.containerd) throw new Error('real node: not started');
    return sh('ctr', ['-a', this.containerd.socket, '-n', 'k8s.io', ...args]);
  }

  /**
   * A server on this machine's loopback (Postgres, Redis, RabbitMQ), reachable from the pods: a relay on
   * the host's end of the veth, same port. Answers the URL pods use.
   */
  async expose(url: string): Promise<string> {
    const u = new URL(url);
    const port = Number(u.port);
    if (!this.relays.some((r) => r.port === port))
      this.relays.push(await Relay.listen(this.net.hostIp, port, { host: u.hostname, port }));
    u.hostname = this.net.hostIp;
    return u.toString();
  }

  /** The kubelet first (it stops no pod on exit), then every process, mount, namespace and cgroup. */
  async stop(): Promise<void> {
    await stopProc(this.kubelet);
    await stopProc(this.containerd?.proc);
    for (const r of this.relays.splice(0)) await r.close();
    await cleanupNode(this.state);
    releaseSlot(this.net);
  }
}
