// The sale's p99 by outcome, seen by the shopper (issue 23): the sale-shaped crowd again on an activity of
// its own, driven by bench/split-load.ts (a Node client in its own process) instead of wrk, because wrk
// cannot time an answer by its outcome. The same tokens in the same order, the same connections and
// duration; checked like every purchase scenario. Its rate and overall p99 are printed beside wrk's so the
// client's own cost can be read off (docs/benchmarks.md, "Where the sale's tail comes from").
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { purchaseScenario, type BenchContext, type Checked } from './scenarios.js';

const run = promisify(execFile);
const CLIENT = new URL('./split-load.js', import.meta.url).pathname;

export interface OutcomeLatency {
  n: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface SplitFigures {
  requests: number;
  seconds: number;
  errors: number;
  /** The client's own event-loop delay p99: how much of a latency may be the client's. */
  clientLoopP99Ms: number;
  /** Every answer's latency, whatever its outcome (to set beside wrk's). */
  latency: { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };
  byOutcome: Record<string, OutcomeLatency>;
  /** Each quarter second of the run (by completion time): how many answers, their p99 and max. */
  timeline: { atS: number; n: number; p99Ms: number; maxMs: number }[];
  /** When the last accepted answer came, seconds into the run: the end of the opening burst. */
  lastAcceptedAtS: number;
  /** The p99 of the answers that came after the last accepted one: the sale's tail without its burst. */
  p99AfterBurstMs: number;
}

async function splitLoad(c: BenchContext, path: string, file: string): Promise<SplitFigures> {
  const args = [CLIENT, c.seckillUrl, path, file, String(c.connections), String(c.durationSeconds)];
  const { stdout } = await run(process.execPath, args, { maxBuffer: 8 << 20 });
  const line = /SPLIT_JSON (\{.*\})/.exec(stdout)?.[1];
  if (!line) throw new Error(`split-load printed no summary:\n${stdout}`);
  return JSON.parse(line) as SplitFigures;
}

export async function splitScenario(c: BenchContext, shoppers: string[]): Promise<Checked> {
  let split: SplitFigures | undefined;
  const r = await purchaseScenario(
    c,
    { activity: 'bench-sale-split', stock: 1000, shoppers },
    async (path, file) => {
      split = await splitLoad(c, path, file);
      const non2xx = split.requests - (split.byOutcome.accepted?.n ?? 0);
      const rps = split.requests / split.seconds;
      return { requests: split.requests, rps, ...split.latency, errors: split.errors, non2xx };
    },
  );
  return { ...r, ...(split ? { split } : {}) };
}
