// A small load generator for one figure wrk cannot give: the latency of each answer by its outcome (wrk's
// Lua sees the answers but has no clock and no connection to pair them with their requests). It runs in a
// process of its own, like wrk: `node split-load.js <url> <path> <tokens-file> <connections> <seconds>`,
// each connection keep-alive, one request at a time, the next shopper's token each time (wrk's order), and
// prints one line `SPLIT_JSON {...}`, with a timeline: each quarter second's answers and their p99, which
// says whether the slow answers are the opening burst's or spread over the run. Its own event-loop delay
// is printed too: time the client's loop was busy elsewhere is counted in a request's latency, the bias
// of a Node client (wrk has none of it).
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';

const [url = '', path = '/', file = '', conns = '64', secs = '10'] = process.argv.slice(2);
const tokens = readFileSync(file, 'utf8').split('\n').filter(Boolean);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: Number(conns) });
const body = '{"quantity":1}';
const outcomes = new Map<string, RecordableHistogram>();
const all = createHistogram();
/** When in the run the slow answers come: the timeline's slices of completion time. */
const SLICE_MS = 250;
let startedAt = 0;
let lastAcceptedAt = 0;
/** Every answer's completion time and latency (ms): the timeline and the p99 after the burst. */
const done: [number, number][] = [];
let next = 0;
let errors = 0;

/** accepted (202), sold_out, already_purchased, …: the problem's code in lower case, else the status. */
function outcomeOf(status: number, text: string): string {
  if (status === 202) return 'accepted';
  const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
  return code ? code.toLowerCase() : `status_${status}`;
}

function once(token: string): Promise<void> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const headers = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    const req = request(
      { host: target.hostname, port: target.port, method: 'POST', path, headers, agent },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const outcome = outcomeOf(res.statusCode ?? 0, text);
          let h = outcomes.get(outcome);
          if (!h) outcomes.set(outcome, (h = createHistogram()));
          const ns = Number(process.hrtime.bigint() - started) || 1;
          h.record(ns);
          all.record(ns);
          const at = performance.now() - startedAt;
          if (outcome === 'accepted') lastAcceptedAt = at;
          done.push([at, ns / 1e6]);
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(body);
  });
}

async function connection(deadline: number): Promise<void> {
  while (performance.now() < deadline) await once(tokens[next++ % tokens.length] as string);
}

const p99 = (sorted: number[]) => sorted[Math.floor(sorted.length * 0.99)] ?? 0;

/** The quarter-second timeline, when the last unit sold, and the p99 of the answers after it. */
function whenSlow() {
  const slices = new Map<number, number[]>();
  for (const [at, l] of done) {
    const k = Math.floor(at / SLICE_MS);
    const slice = slices.get(k);
    if (slice) slice.push(l);
    else slices.set(k, [l]);
  }
  const timeline = [...slices].map(([k, ls]) => {
    const sorted = ls.sort((a, b) => a - b);
    return { atS: (k * SLICE_MS) / 1000, n: ls.length, p99Ms: p99(sorted), maxMs: sorted.at(-1) ?? 0 };
  });
  const after = done
    .filter(([at]) => at > lastAcceptedAt)
    .map(([, l]) => l)
    .sort((a, b) => a - b);
  return { timeline, lastAcceptedAtS: lastAcceptedAt / 1000, p99AfterBurstMs: p99(after) };
}

async function main(): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const started = (startedAt = performance.now());
  const deadline = started + Number(secs) * 1000;
  await Promise.all(Array.from({ length: Number(conns) }, () => connection(deadline)));
  const seconds = (performance.now() - started) / 1000;
  loop.disable();
  const ms = (ns: number) => ns / 1e6;
  const byOutcome = Object.fromEntries(
    [...outcomes].map(([k, h]) => [
      k,
      { n: h.count, p50Ms: ms(h.percentile(50)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) },
    ]),
  );
  const latency = {
    p50Ms: ms(all.percentile(50)),
    p90Ms: ms(all.percentile(90)),
    p99Ms: ms(all.percentile(99)),
    maxMs: ms(all.max),
  };
  const clientLoopP99Ms = Math.max(0, ms(loop.percentile(99)) - 1);
  const { timeline, lastAcceptedAtS, p99AfterBurstMs } = whenSlow();
  const out = {
    requests: all.count,
    seconds,
    errors,
    clientLoopP99Ms,
    latency,
    byOutcome,
    timeline,
    lastAcceptedAtS,
    p99AfterBurstMs,
  };
  console.log(`SPLIT_JSON ${JSON.stringify(out)}`);
  agent.destroy();
}

void main();
