// A small load generator for one figure wrk cannot give: the latency of each answer by its outcome (wrk's
// Lua sees the answers but has no clock and no connection to pair them with their requests). It runs in a
// process of its own, like wrk: `node split-load.js <url> <path> <tokens-file> <connections> <seconds>`,
// each connection keep-alive, one request at a time, the next shopper's token each time (wrk's order), and
// prints one line `SPLIT_JSON {...}`. Its own event-loop delay is printed too: time the client's loop was
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
  const started = performance.now();
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
  const out = { requests: all.count, seconds, errors, clientLoopP99Ms, latency, byOutcome };
  console.log(`SPLIT_JSON ${JSON.stringify(out)}`);
  agent.destroy();
}

void main();
