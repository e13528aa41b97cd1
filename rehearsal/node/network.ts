import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupNode } from './cleanup.js';
import type { NodeNetwork, NodeState } from './state.js';
import { sh } from './sh.js';

/**
 * The real node's network: a network namespace of its own per run, joined to the host by a veth pair, with
 * addresses from the range reserved for benchmarks only (RFC 2544's 198.18.0.0/15: the veth /30s in
 * 198.18.255.0/24, pods in 198.18.<slot>.0/24, Services in 198.19.0.0/16), so nothing a pod sends can mean a
 * real machine. 192.0.2.0/24 is not used: this machine's own eth0 and gateway sit in it. The node namespace has no default route: a pod reaches its own bridge,
 * the host's end of the veth (where the harness relays the API server and the platform's servers) and
 * nothing else; the host does not forward (its ip_forward is left as it is, 0 here).
 *
 * Each run takes a slot (a /30 for the veth, a /24 for its pods), claimed by an exclusive file in SLOT_DIR
 * that records what the run created; a slot whose owner died is cleaned up and taken again, so parallel
 * runs never share an address and a crashed run's leftovers go at the next start.
 */
export const SLOT_DIR = '/run/stampede-node';
const SLOTS = 64;
/** Services: the API server allocates from here; its first address is the `kubernetes` Service. */
export const SERVICE_CIDR = '198.19.0.0/16';
export const KUBERNETES_SERVICE_IP = '198.19.0.1';

export function addressesOf(slot: number, id: string): NodeNetwork {
  return {
    slot,
    id,
    netns: `stampede-${id}`,
    hostVeth: `sth-${id}`,
    hostIp: `198.18.255.${slot * 4 + 1}`,
    nodeIp: `198.18.255.${slot * 4 + 2}`,
    podCidr: `198.18.${slot}.0/24`,
    podGateway: `198.18.${slot}.1`,
  };
}

const slotFile = (slot: number) => join(SLOT_DIR, `slot-${slot}.json`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Claims a free slot for `dir` (the run's folder), cleaning up after dead owners on the way. */
export async function claimSlot(dir: string): Promise<NodeNetwork> {
  mkdirSync(SLOT_DIR, { recursive: true });
  for (let slot = 0; slot < SLOTS; slot++) {
    const net = addressesOf(slot, randomBytes(3).toString('hex'));
    const state: NodeState = { pid: process.pid, dir, net, cgroupRoot: `stampede-${net.id}` };
    try {
      writeFileSync(slotFile(slot), JSON.stringify(state), { flag: 'wx' });
      return net;
    } catch {
      const old = readState(slot);
      if (old && alive(old.pid)) continue;
      if (old) await cleanupNode(old);
      rmSync(slotFile(slot), { force: true });
      slot--; // try the same slot again, now free
    }
  }
  throw new Error(`real node: all ${SLOTS} network slots in ${SLOT_DIR} are taken by live runs`);
}

function readState(slot: number): NodeState | null {
  try {
    return JSON.parse(readFileSync(slotFile(slot), 'utf8')) as NodeState;
  } catch {
    return null;
  }
}

export function releaseSlot(net: NodeNetwork): void {
  const mine = readState(net.slot);
  if (mine?.pid === process.pid && mine.net.id === net.id) rmSync(slotFile(net.slot), { force: true });
}

/** Refuses to start when the machine already routes one of the slot's ranges (it would be shadowed). */
async function checkFree(net: NodeNetwork): Promise<void> {
  const routes = JSON.parse(await sh('ip', ['-j', 'route', 'show'])) as { dst: string; dev: string }[];
  const clash = routes.filter(
    (r) =>
      r.dev !== net.hostVeth &&
      r.dst !== 'default' &&
      (overlaps(r.dst, `${net.hostIp}/30`) || overlaps(r.dst, net.podCidr)),
  );
  if (clash.length)
    throw new Error(
      `real node: ${net.hostIp}/30 or ${net.podCidr} is already routed here: ${JSON.stringify(clash)}`,
    );
}

function toInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function overlaps(a: string, b: string): boolean {
  const [ipA = '', lenA = '32'] = a.split('/');
  const [ipB = '', lenB = '32'] = b.split('/');
  const len = Math.min(Number(lenA), Number(lenB));
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (toInt(ipA) & mask) >>> 0 === (toInt(ipB) & mask) >>> 0;
}

/** Creates the namespace, the veth pair with both addresses, and the host's route to the pods. */
export async function createNetwork(net: NodeNetwork): Promise<void> {
  await checkFree(net);
  const node = `stn-${net.id}`;
  const inNs = (args: string[]) => sh('ip', ['-n', net.netns, ...args]);
  await sh('ip', ['netns', 'add', net.netns]);
  await sh('ip', ['link', 'add', net.hostVeth, 'type', 'veth', 'peer', 'name', node, 'netns', net.netns]);
  await sh('ip', ['addr', 'add', `${net.hostIp}/30`, 'dev', net.hostVeth]);
  await sh('ip', ['link', 'set', net.hostVeth, 'up']);
  await inNs(['addr', 'add', `${net.nodeIp}/30`, 'dev', node]);
  await inNs(['link', 'set', node, 'up']);
  await inNs(['link', 'set', 'lo', 'up']);
  await sh('ip', ['route', 'add', net.podCidr, 'via', net.nodeIp, 'dev', net.hostVeth]);
  // The node routes between its pods' bridge and the veth (a network namespace starts with forwarding off).
  await sh('ip', ['netns', 'exec', net.netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

/**
 * What kube-proxy would do for the one Service pods use: the `kubernetes` Service's address, inside the
 * node's namespace, to the API server's relay on the host's end of the veth (in-cluster clients such as
 * the operator then work unchanged, with the address their ServiceAccount's CA certificate names).
 */
export async function routeKubernetesService(net: NodeNetwork, apiPort: number): Promise<void> {
  await sh('ip', [
    'netns',
    'exec',
    net.netns,
    'iptables',
    '-t',
    'nat',
    '-A',
    'PREROUTING',
    '-d',
    `${KUBERNETES_SERVICE_IP}/32`,
    '-p',
    'tcp',
    '--dport',
    '443',
    '-j',
    'DNAT',
    '--to-destination',
    `${net.hostIp}:${apiPort}`,
  ]);
}
