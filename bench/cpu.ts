// CPU time per component over a scenario, read from /proc (Linux): which process the machine's two cores
// went to while the load ran. This is the profile the figures are explained with.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;
const COMPONENTS: [string, RegExp][] = [
  ['seckill', /dist\/services\/seckill\/main\.js/],
  ['orders', /dist\/services\/orders\/main\.js/],
  ['api', /dist\/services\/api\/main\.js/],
  ['rabbitmq', /beam\.smp/],
  ['redis', /redis-server/],
  ['postgres', /^postgres/],
  ['wrk', /^wrk\b/],
];

export type CpuSnapshot = Map<string, { ticks: number; component: string }>;

function componentOf(cmd: string): string {
  for (const [name, re] of COMPONENTS) if (re.test(cmd)) return name;
  return 'other';
}

export function snapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, { ticks: Number(f[11]) + Number(f[12]), component: componentOf(cmd || stat) });
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

/** Cores used per component between two snapshots taken `seconds` apart. */
export function coresBetween(a: CpuSnapshot, b: CpuSnapshot, seconds: number): Record<string, number> {
  const cores: Record<string, number> = {};
  for (const [pid, now] of b) {
    const used = now.ticks - (a.get(pid)?.ticks ?? 0);
    if (used > 0) cores[now.component] = (cores[now.component] ?? 0) + used / TICKS_PER_SECOND / seconds;
  }
  return cores;
}
