// Where a purchase scenario's tail comes from (issue 23): around each wrk run the bench scrapes the seckill's
// /metrics twice. The first scrape starts a window in every worker (SECKILL_DIAGNOSTICS=1 on the bench's
// platform: services/seckill/diagnostics.ts), the second reads each worker's event-loop delay and GC pauses
// over the load, and the difference of the two scrapes of stampede_purchase_duration_seconds gives the
// seckill's own p99 per outcome (time in the handler: without the kernel's queue and the loop's delay
// before the request is read). Also the diagnosis switches, read here only (the README's bench names).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WorkerTail {
  pid: string;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  gcMaxMs: number;
  gcSumMs: number;
  gcPauses: Record<string, number>;
}

export interface TailWindow {
  /** One per seckill worker, by pid (ascending: w0, w1, …). */
  workers: WorkerTail[];
  /** The seckill's own p99 by outcome over the window, interpolated in its histogram's buckets. */
  serverP99Ms: Record<string, number>;
}

/** `outcome → le → cumulative count` of stampede_purchase_duration_seconds, summed over other labels. */
type Buckets = Map<string, Map<number, number>>;

interface Scrape {
  buckets: Buckets;
  text: string;
}

const labelsOf = (line: string): Record<string, string> =>
  Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
const valueOf = (line: string): number => Number(line.slice(line.lastIndexOf(' ') + 1));

function bucketsOf(text: string): Buckets {
  const out: Buckets = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('stampede_purchase_duration_seconds_bucket{')) continue;
    const l = labelsOf(line);
    const le = l.le === '+Inf' ? Infinity : Number(l.le);
    const byLe = out.get(l.outcome ?? '') ?? new Map<number, number>();
    byLe.set(le, (byLe.get(le) ?? 0) + valueOf(line));
    out.set(l.outcome ?? '', byLe);
  }
  return out;
}

/** The q-quantile of a cumulative histogram, as Prometheus's histogram_quantile interpolates it. */
export function quantileOf(cumulative: Map<number, number>, q: number): number {
  const les = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Infinity) ?? 0;
  if (total <= 0) return 0;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of les) {
    const count = cumulative.get(le) ?? 0;
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(count - below, 1e-9);
    }
    lower = le;
    below = count;
  }
  return lower;
}

async function scrape(seckillUrl: string): Promise<Scrape> {
  const text = await (await fetch(`${seckillUrl}/metrics`)).text();
  return { text, buckets: bucketsOf(text) };
}

const answered = (b: Buckets): number =>
  [...b.values()].reduce((n, byLe) => n + (byLe.get(Infinity) ?? 0), 0);

/**
 * Starts every worker's window (a scrape resets it) and keeps the histogram to subtract. The warm-up's wrk
 * stops with a request per connection in flight, and those are answered (and timed) after it exits: the
 * window opens once two scrapes 50 ms apart count the same answers, so none of them counts in it.
 */
export async function openWindow(seckillUrl: string): Promise<Scrape> {
  let last = await scrape(seckillUrl);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await scrape(seckillUrl);
    if (answered(now.buckets) === answered(last.buckets)) return now;
    last = now;
  }
  return last;
}

export function workersOf(text: string): WorkerTail[] {
  const by = new Map<string, WorkerTail>();
  const get = (pid: string) => {
    let w = by.get(pid);
    const empty = { loopP50Ms: 0, loopP99Ms: 0, loopMaxMs: 0, gcMaxMs: 0, gcSumMs: 0, gcPauses: {} };
    if (!w) by.set(pid, (w = { pid, ...empty }));
    return w;
  };
  const loop = { p50: 'loopP50Ms', p99: 'loopP99Ms', max: 'loopMaxMs' } as const;
  const gc = { max: 'gcMaxMs', sum: 'gcSumMs' } as const;
  for (const line of text.split('\n')) {
    if (!line.startsWith('stampede_diagnostics_')) continue;
    const l = labelsOf(line);
    if (!l.pid) continue;
    const w = get(l.pid);
    const stat = l.stat as keyof typeof loop & keyof typeof gc;
    if (line.startsWith('stampede_diagnostics_event_loop_delay_seconds{') && loop[stat])
      w[loop[stat]] = valueOf(line) * 1000;
    else if (line.startsWith('stampede_diagnostics_gc_pause_seconds{') && gc[stat])
      w[gc[stat]] = valueOf(line) * 1000;
    else if (line.startsWith('stampede_diagnostics_gc_pauses{') && l.kind) w.gcPauses[l.kind] = valueOf(line);
  }
  return [...by.values()].sort((a, b) => Number(a.pid) - Number(b.pid));
}

/** Reads every worker's window and the seckill's own p99 per outcome since `before`. */
export async function closeWindow(seckillUrl: string, before: Scrape): Promise<TailWindow> {
  const after = await scrape(seckillUrl);
  const serverP99Ms: Record<string, number> = {};
  for (const [outcome, byLe] of after.buckets) {
    const delta = new Map([...byLe].map(([le, n]) => [le, n - (before.buckets.get(outcome)?.get(le) ?? 0)]));
    if ((delta.get(Infinity) ?? 0) > 0) serverP99Ms[outcome] = quantileOf(delta, 0.99) * 1000;
  }
  return { workers: workersOf(after.text), serverP99Ms };
}

export interface Diagnosis {
  /** Env for the bench's main platform: the diagnostics on, and the node flags the switches ask for. */
  env: Record<string, string>;
  /** Where --cpu-prof and --trace-gc write (kept after the run), when one of them is asked for. */
  dir?: string;
  /** The platform's output (the --trace-gc lines, each `[pid:isolate]`), when --trace-gc is asked for. */
  logFile?: string;
  described: string;
}

/**
 * The diagnosis switches: BENCH_SEMI_SPACE_MB (V8's --max-semi-space-size) and BENCH_SECKILL_PROFILE
 * (a comma list of `cpu`, `gc`). They reach the processes as STAMPEDE_NODE_ARGS (scripts/start.mjs), so
 * they apply to every service `npm start` runs, the seckill's workers inheriting its primary's flags.
 * SECKILL_WORKERS needs nothing: the platform inherits the bench's environment.
 */
export function diagnosis(env: NodeJS.ProcessEnv = process.env): Diagnosis {
  const args = (env.STAMPEDE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const semi = env.BENCH_SEMI_SPACE_MB;
  if (semi) {
    if (!/^\d+$/.test(semi)) throw new Error(`BENCH_SEMI_SPACE_MB=${semi}: expected a number of MiB`);
    args.push(`--max-semi-space-size=${semi}`);
  }
  const profile = (env.BENCH_SECKILL_PROFILE ?? '').split(',').filter(Boolean);
  const unknown = profile.filter((p) => p !== 'cpu' && p !== 'gc');
  if (unknown.length) throw new Error(`BENCH_SECKILL_PROFILE: ${unknown.join(',')} is not cpu or gc`);
  const dir = profile.length ? mkdtempSync(join(tmpdir(), 'stampede-bench-profile-')) : undefined;
  if (dir && profile.includes('cpu')) args.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  if (profile.includes('gc')) args.push('--trace-gc');
  const out: Diagnosis = {
    env: { SECKILL_DIAGNOSTICS: '1', ...(args.length ? { STAMPEDE_NODE_ARGS: args.join(' ') } : {}) },
    described: `workers=${env.SECKILL_WORKERS ?? 'every core'} node_args=${args.join(' ') || 'none'}`,
  };
  if (dir) out.dir = dir;
  if (dir && profile.includes('gc')) out.logFile = join(dir, 'platform.log');
  return out;
}
