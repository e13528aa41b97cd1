import type { RoomFigures } from './room-summary.js';
import type { SaleRun } from './run.js';
import type { SaleSummary } from './summary.js';

const BUCKET_MS = 250;

/** Per-bucket series: requests by outcome, latency p50/p99, and the stock samples. */
export function series(run: SaleRun) {
  const n = Math.max(1, Math.ceil((run.seconds * 1000) / BUCKET_MS));
  const outcomes = [...new Set(run.samples.map((s) => s.outcome))];
  const rate: Record<string, number[]> = Object.fromEntries(
    outcomes.map((o) => [o, new Array<number>(n).fill(0)]),
  );
  const lat: number[][] = Array.from({ length: n }, () => []);
  for (const s of run.samples) {
    const b = Math.min(n - 1, Math.floor(s.t / BUCKET_MS));
    (rate[s.outcome] as number[])[b] = ((rate[s.outcome] as number[])[b] ?? 0) + 1000 / BUCKET_MS;
    (lat[b] as number[]).push(s.ms);
  }
  const pct = (xs: number[], p: number) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length ? (v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)] as number) : 0;
  };
  return {
    bucketMs: BUCKET_MS,
    rate,
    p50: lat.map((xs) => pct(xs, 50)),
    p99: lat.map((xs) => pct(xs, 99)),
    stock: run.stock.map((p) => [p.t, p.remaining]),
  };
}

// Draws each chart into its <svg> from the embedded data: no library, no network, opens anywhere.
const SCRIPT = `
const data = JSON.parse(document.getElementById('data').textContent);
const colors = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#be185d'];
function chart(id, lines, xMax) {
  const svg = document.getElementById(id), W = 640, H = 200, P = 30;
  const yMax = Math.max(1, ...lines.flatMap((l) => l.points.map((p) => p[1])));
  const ns = 'http://www.w3.org/2000/svg';
  const axis = document.createElementNS(ns, 'path');
  axis.setAttribute('d', 'M' + P + ' ' + P + ' V' + (H - P) + ' H' + (W - P));
  axis.setAttribute('stroke', '#999'); axis.setAttribute('fill', 'none'); svg.appendChild(axis);
  const label = document.createElementNS(ns, 'text');
  label.setAttribute('x', P + 4); label.setAttribute('y', P - 8); label.textContent = 'max ' + Math.round(yMax);
  svg.appendChild(label);
  lines.forEach((l, i) => {
    const pl = document.createElementNS(ns, 'polyline');
    pl.setAttribute('points', l.points.map((p) => (P + (p[0] / Math.max(1, xMax)) * (W - 2 * P)).toFixed(1) + ',' + (H - P - (p[1] / yMax) * (H - 2 * P)).toFixed(1)).join(' '));
    pl.setAttribute('fill', 'none'); pl.setAttribute('stroke', colors[i % colors.length]); pl.setAttribute('stroke-width', '2');
    pl.setAttribute('data-series', l.name);
    svg.appendChild(pl);
    const key = document.createElementNS(ns, 'text');
    key.setAttribute('x', W - P - 150); key.setAttribute('y', P + 14 * i); key.setAttribute('fill', colors[i % colors.length]);
    key.textContent = l.name; svg.appendChild(key);
  });
}
const s = data.series, xMax = data.summary.seconds * 1000;
const at = (arr) => arr.map((v, i) => [i * s.bucketMs, v]);
chart('rate', Object.entries(s.rate).map(([name, v]) => ({ name, points: at(v) })), xMax);
chart('stock', [{ name: 'remaining', points: s.stock }], xMax);
chart('latency', [{ name: 'p50 ms', points: at(s.p50) }, { name: 'p99 ms', points: at(s.p99) }], xMax);
document.body.setAttribute('data-rendered', 'true');
`;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function roomSection(r: RoomFigures): string {
  const pct = (n: number | null) => (n === null ? 'n/a' : `${(n * 100).toFixed(1)}%`);
  const rows: [string, string][] = [
    ['joined', String(r.joined)],
    ['pre-queue size', String(r.preQueue)],
    ['admitted (seen by their shoppers)', `${r.admitted} (${r.admissionsSeen})`],
    ['no-shows (chose not to buy)', `${r.noShows} (${r.noShowsChosen})`],
    ['admission to 202, p50 / p99', `${r.admissionTo202Ms.p50} ms / ${r.admissionTo202Ms.p99} ms`],
    [
      'units to pre-queue joiners',
      `${pct(r.preQueueUnitShare)} (${pct(r.preQueueJoinerShare)} of the shoppers)`,
    ],
    [
      'visits ended',
      Object.entries(r.ends)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['commitment / seed', `${r.commitment} / ${r.seed ?? 'not revealed'}`],
  ];
  return `<h2>Waiting room</h2><table id="room">${rows
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`)
    .join('')}</table>
`;
}

export function htmlReport(summary: SaleSummary, run: SaleRun): string {
  const data = JSON.stringify({ summary, series: series(run) }).replace(/</g, '\\u003c');
  const inv = summary.invariants;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Stampede flash sale ${esc(summary.activity)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:720px}svg{border:1px solid #eee;margin:.5em 0}td{padding:2px 12px}.bad{color:#dc2626}.ok{color:#16a34a}</style>
</head><body>
<h1>Flash sale ${esc(summary.activity)}</h1>
<p>${summary.requests} requests in ${summary.seconds} s (${summary.requestsPerSecond} req/s); accepted ${summary.accepted} of ${summary.stock};
latency p50 ${summary.latencyMs.p50} ms, p99 ${summary.latencyMs.p99} ms; paid ${summary.paid}, closed ${summary.closed}.</p>
<p class="${summary.ok ? 'ok' : 'bad'}">invariants: ${Object.entries(inv)
    .map(([k, n]) => `${esc(k)} ${n}`)
    .join(', ')}</p>
${summary.waitingRoom ? roomSection(summary.waitingRoom) : ''}<h2>Requests per second by outcome</h2><svg id="rate" width="640" height="200"></svg>
<h2>Stock remaining</h2><svg id="stock" width="640" height="200"></svg>
<h2>Latency</h2><svg id="latency" width="640" height="200"></svg>
<script type="application/json" id="data">${data}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}
