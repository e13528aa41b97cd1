// The tail's figures of `npm run bench` (issue 23), as `name: value` lines: the sale's p99 by outcome as
// the shopper sees it (bench/split.ts) and as the seckill timed it (its own histogram over the wrk run),
// and each seckill worker's event-loop delay and GC pauses during each purchase scenario (bench/tail.ts).
import type { Checked } from './scenarios.js';

const f = (n: number | undefined) => (n ?? 0).toFixed(2);

/** Per worker (w0, w1, … by pid) of one scenario's window. */
function workerLines(name: string, r: Checked | undefined): [string, string][] {
  return (r?.tail?.workers ?? []).flatMap((w, i): [string, string][] => [
    [`${name}_loop_delay_p99_ms_w${i}`, f(w.loopP99Ms)],
    [`${name}_loop_delay_max_ms_w${i}`, f(w.loopMaxMs)],
    [`${name}_gc_max_pause_ms_w${i}`, f(w.gcMaxMs)],
    [`${name}_gc_pause_ms_w${i}`, f(w.gcSumMs)],
  ]);
}

export function tailLines(p: Record<string, Checked>): [string, string][] {
  const split = p.sale_split?.split;
  const server = p.sale?.tail?.serverP99Ms ?? {};
  return [
    ['seckill_workers', String(p.sale?.tail?.workers.length ?? p.ok?.tail?.workers.length ?? 0)],
    ['sale_p99_soldout_ms', f(split?.byOutcome.sold_out?.p99Ms)],
    ['sale_p99_accepted_ms', f(split?.byOutcome.accepted?.p99Ms)],
    // How many answers each p99 stands on (0 sold out: the run did not sell the 1,000 units).
    ['sale_split_answers_accepted', String(split?.byOutcome.accepted?.n ?? 0)],
    ['sale_split_answers_soldout', String(split?.byOutcome.sold_out?.n ?? 0)],
    ['sale_split_rps', f(p.sale_split?.load.rps)],
    ['sale_split_p99_ms', f(p.sale_split?.load.p99Ms)],
    ['sale_split_client_loop_p99_ms', f(split?.clientLoopP99Ms)],
    ['sale_split_last_accepted_s', f(split?.lastAcceptedAtS)],
    ['sale_split_p99_after_burst_ms', f(split?.p99AfterBurstMs)],
    ['sale_server_p99_soldout_ms', f(server.sold_out)],
    ['sale_server_p99_accepted_ms', f(server.accepted)],
    ...workerLines('sale', p.sale),
    ...workerLines('soldout', p.soldout),
    ...workerLines('ok', p.ok),
  ];
}

/** Which pid is w0, w1, …: to find a worker's `.cpuprofile` or `--trace-gc` lines (`[pid:…]`). */
export function workerPids(p: Record<string, Checked>): string {
  const seen = Object.entries(p).map(
    ([name, r]) => `${name}=${(r.tail?.workers ?? []).map((w) => w.pid).join(',')}`,
  );
  return seen.join(' ');
}

/** The split run's quarter seconds while they matter: `t:n/p99` up to a second after the burst. */
export function timelineLine(p: Record<string, Checked>): string {
  const split = p.sale_split?.split;
  if (!split) return '';
  const until = split.lastAcceptedAtS + 1;
  const shown = split.timeline.filter((s) => s.atS <= until);
  return shown.map((s) => `${s.atS.toFixed(2)}s:${s.n}/${s.p99Ms.toFixed(1)}ms`).join(' ');
}
