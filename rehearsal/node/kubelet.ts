import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { launch, repoRoot, type Proc } from '../proc.js';
import type { NodeNetwork } from './state.js';

/** What the rehearsal values select the real node by (charts/stampede/ci/real-node-values.yaml). */
export const REAL_NODE_LABEL = { key: 'stampede.dev/node', value: 'real' };
export const REAL_NODE_TAINT = { key: 'stampede.dev/real-node', value: 'true', effect: 'NoSchedule' };

export interface KubeletOptions {
  dir: string;
  net: NodeNetwork;
  nodeName: string;
  cgroupRoot: string;
  /** containerd's socket. */
  socket: string;
  /** The admin kubeconfig, with the API server at the host's end of the veth. */
  kubeconfig: string;
}

/**
 * The kubelet's settings for this machine: cgroup v1 (hybrid) with cgroupfs, no swap check, eviction
 * thresholds far below the shared disk's and memory's use (the defaults, 10-15% free, would evict on a
 * busy CI disk), image GC off (the Stampede image is imported, `pullPolicy: Never`: a collected image
 * could not come back). The kubelet serves on the node's address only, anonymous and allowed: that address
 * is reachable from this machine alone, and the API server (logs, exec, port-forward) presents no client
 * certificate.
 */
function kubeletConfig(o: KubeletOptions): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: o.net.nodeIp,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${o.cgroupRoot}`,
    failCgroupV1: false,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${o.socket}`,
    podLogsDir: join(o.dir, 'pod-logs'),
    // No resolver: the pods use addresses, and nothing they look up could leave the machine anyway.
    resolvConf: join(o.dir, 'resolv.conf'),
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    registerWithTaints: [REAL_NODE_TAINT],
    serializeImagePulls: false,
    maxPods: 40,
  };
}

/** The kubelet's cgroupRoot in every hierarchy, cpuset filled from the parent (an empty one admits no task). */
function createCgroupRoot(root: string): void {
  const base = '/sys/fs/cgroup';
  for (const h of readdirSync(base)) {
    const dir = join(base, h, root);
    if (!existsSync(join(base, h, 'cgroup.procs'))) continue;
    mkdirSync(dir, { recursive: true });
    if (h === 'cpuset')
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        writeFileSync(join(dir, f), readFileSync(join(base, h, f)));
  }
}

export function startKubelet(o: KubeletOptions): Proc {
  const config = join(o.dir, 'kubelet.yaml');
  writeFileSync(config, stringify(kubeletConfig(o)));
  writeFileSync(join(o.dir, 'resolv.conf'), '');
  mkdirSync(join(o.dir, 'pod-logs'), { recursive: true });
  createCgroupRoot(o.cgroupRoot);
  return launch('kubelet', 'nsenter', [
    `--net=/run/netns/${o.net.netns}`,
    join(repoRoot(), '.tools/bin/kubelet'),
    `--config=${config}`,
    `--kubeconfig=${o.kubeconfig}`,
    `--root-dir=${join(o.dir, 'kubelet-root')}`,
    `--hostname-override=${o.nodeName}`,
    `--node-ip=${o.net.nodeIp}`,
    `--node-labels=${REAL_NODE_LABEL.key}=${REAL_NODE_LABEL.value}`,
    '--v=1',
  ]);
}
