import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, until, type Proc } from '../proc.js';
import type { NodeNetwork } from './state.js';
import { PAUSE_IMAGE } from './pause.js';
import { sh } from './sh.js';

/**
 * Debian's containerd 1.6 with a configuration of our own: every path (root, state, sockets, pod network
 * namespaces, CNI configuration and IPAM data) inside the node's folder, overlayfs, runc with cgroupfs.
 */
export interface Containerd {
  proc: Proc;
  socket: string;
}

function config(dir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'oom_score = 0',
    'disabled_plugins = ["io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",',
    '  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs"]',
    `[grpc]\n  address = "${dir}/containerd.sock"`,
    `[ttrpc]\n  address = "${dir}/containerd.ttrpc.sock"`,
    '[debug]\n  level = "warn"',
    '[metrics]\n  address = ""',
    `[plugins."io.containerd.internal.v1.opt"]\n  path = "${dir}/opt"`,
    `[${cri}]`,
    `  sandbox_image = "${PAUSE_IMAGE}"`,
    // Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails ("can't get final child's PID
    // from pipe: EOF") when runc tries the negative oom_score_adj the kubelet asks for.
    '  restrict_oom_score_adj = true',
    '  disable_apparmor = true',
    // Pod network namespaces under state/netns, not /run/netns: they go with the node's folder.
    '  netns_mounts_under_state_dir = true',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    '  BinaryName = "/usr/sbin/runc"',
    '  SystemdCgroup = false',
    `[${cri}.cni]`,
    '  bin_dir = "/usr/lib/cni"',
    `  conf_dir = "${dir}/cni"`,
    `[${cri}.registry]`,
    '  config_path = ""',
    '',
  ].join('\n');
}

/** A bridge in the node's namespace with the slot's pod range; containerd adds the loopback itself. */
function cniConfig(dir: string, net: NodeNetwork): string {
  const bridge = {
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: net.podCidr, gateway: net.podGateway }]],
      routes: [{ dst: '0.0.0.0/0' }],
      dataDir: join(dir, 'ipam'),
    },
  };
  const portmap = { type: 'portmap', capabilities: { portMappings: true } };
  return JSON.stringify({ cniVersion: '0.4.0', name: 'stampede', plugins: [bridge, portmap] }, null, 2);
}

/** Starts containerd inside the node's network namespace and waits until it answers on its socket. */
export async function startContainerd(dir: string, net: NodeNetwork): Promise<Containerd> {
  mkdirSync(join(dir, 'cni'), { recursive: true });
  writeFileSync(join(dir, 'containerd.toml'), config(dir));
  writeFileSync(join(dir, 'cni', '10-stampede.conflist'), cniConfig(dir, net));
  const socket = join(dir, 'containerd.sock');
  // nsenter --net rather than `ip netns exec`: the latter also gives the process a mount namespace of its
  // own, and the kubelet's volume mounts (tokens, emptyDirs) must be the ones containerd bind-mounts.
  const proc = launch('containerd', 'nsenter', [
    `--net=/run/netns/${net.netns}`,
    'containerd',
    '--config',
    join(dir, 'containerd.toml'),
  ]);
  const answers = () => sh('ctr', ['-a', socket, 'version'], { timeoutMs: 5000 }).then(() => true);
  await until('containerd', answers, 60_000, proc);
  return { proc, socket };
}

/** Imports a docker or OCI archive into the namespace the CRI uses (k8s.io). */
export async function importImage(c: Containerd, archive: string): Promise<void> {
  await sh(
    'ctr',
    ['-a', c.socket, '-n', 'k8s.io', 'images', 'import', '--snapshotter', 'overlayfs', archive],
    {
      timeoutMs: 600_000,
    },
  );
}
