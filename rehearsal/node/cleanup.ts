import { existsSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeState } from './state.js';
import { shQuiet } from './sh.js';

const CGROUPS = '/sys/fs/cgroup';

function hierarchies(root: string): string[] {
  if (!existsSync(CGROUPS)) return [];
  return readdirSync(CGROUPS)
    .map((c) => join(CGROUPS, c, root))
    .filter((p) => existsSync(p));
}

/** Every cgroup below `dir`, deepest first. */
function cgroupsBelow(dir: string): string[] {
  const subs = readdirSync(dir)
    .map((e) => join(dir, e))
    .filter((p) => statSync(p).isDirectory());
  return [...subs.flatMap(cgroupsBelow), dir];
}

function pidsIn(cgroupRoot: string): number[] {
  const pids = new Set<number>();
  for (const h of hierarchies(cgroupRoot))
    for (const cg of cgroupsBelow(h))
      for (const line of readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n'))
        if (line.trim()) pids.add(Number(line));
  return [...pids];
}

/** The node's own daemons (containerd, its shims, the kubelet): their command lines name the node's folder. */
function pidsNaming(dir: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function kill(pids: number[]): void {
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
}

async function killAll(state: NodeState): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const pids = [...pidsIn(state.cgroupRoot), ...pidsNaming(state.dir)];
    if (pids.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`real node cleanup: processes ${pids.join(' ')} survive SIGKILL`);
    kill(pids);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Mount points under the node's folder (overlay rootfs, shm, pod volumes, pod netns), deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Idempotent: each step tolerates what an earlier (crashed or partial) cleanup already removed. */
export async function cleanupNode(state: NodeState): Promise<void> {
  await killAll(state);
  for (const m of mountsUnder(state.dir)) await shQuiet('umount', ['-l', m]);
  await shQuiet('ip', ['netns', 'del', state.net.netns]);
  // Deleting the namespace deletes the pair; a failure between `link add` and the move leaves the host end.
  await shQuiet('ip', ['link', 'del', state.net.hostVeth]);
  for (const h of hierarchies(state.cgroupRoot))
    for (const cg of cgroupsBelow(h))
      try {
        rmdirSync(cg);
      } catch {
        // a cgroup the kernel still drains; it goes with its last process
      }
  rmSync(state.dir, { recursive: true, force: true });
}
