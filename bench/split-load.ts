// A small load generator for one figure wrk cannot give: the latency of each answer by its outcome (wrk's
// Lua sees the answers but has no clock and no connection to pair them with their requests). It runs in a
// process of its own, like wrk: `node split-load.js <url> <path> <tokens-file> <connections> <seconds>`,
// each connection keep-alive, one request at a time, the next shopper's token each time (wrk's order), and
// prints one line `SPLIT_JSON {...}`, with a timeline: each quarter second's answers and their p99, which
// says whether the slow answers are the opening burst's or spread over the run. Its own event-loop delay is printed too: time the client's loop was
// busy elsewhere is counted in a request's latency, the bias of a Node client (wrk has none of it).
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
/** When in the run the slow answers come: one histogram per SLICE_MS of completion time. */
const SLICE_MS = 250;
const slices = new Map<number, RecordableHistogram>();
let startedAt = 0;
let lastAcceptedAt = 0;
/** Every answer's completion time and latency (ms), to take the p99 of those after the burst. */
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
          const k = Math.floor(at / SLICE_MS);
          let sl = slices.get(k);
          if (!sl) slices.set(k, (sl = createHistogram()));
          sl.record(ns);
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
  const timeline = [...slices].map(([k, h]) => ({
    atS: (k * SLICE_MS) / 1000,
    n: h.count,
    p99Ms: ms(h.percentile(99)),
    maxMs: ms(h.max),
  }));
  const lastAcceptedAtS = lastAcceptedAt / 1000;
  const after = done
    .filter(([at]) => at > lastAcceptedAt)
    .map(([, l]) => l)
    .sort((a, b) => a - b);
  const p99AfterBurstMs = after.length ? (after[Math.floor(after.length * 0.99)] as number) : 0;
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
