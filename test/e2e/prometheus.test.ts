// The dashboards read by a real Prometheus (Debian's 2.42): `npm start`'s processes and the operator (on a
// real kube-apiserver, reconciling a SeckillActivity) are scraped every second while `npx stampede sale` (and a
// second one with --waiting-room, for the room panels)
// runs; then every `expr` of every panel of every dashboard, with the dashboards' variables filled in as
// Grafana fills them, goes through Prometheus' HTTP API and must answer a non-empty, finite result.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnvTest } from '../../rehearsal/envtest.js';
import { expand, labelValuesQuery, loadDashboards, panelQueries, selected } from '../chart/grafana.js';
import { freePort, waitFor } from '../helpers/env.js';
import { Cluster, saleSpec } from '../helpers/operator.js';
import { startPlatform, type Platform } from '../helpers/platform.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/stampede.js');
const OPERATOR = join(ROOT, 'dist/operator/main.js');
const PROMETHEUS = '/usr/bin/prometheus';
const SCRAPE_SECONDS = 1;

type Sample = [number, string];
interface Series {
  metric: Record<string, string>;
  values?: Sample[];
  value?: Sample;
}

class Prometheus {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<unknown>,
    private readonly dir: string,
  ) {}

  /** A server of its own in a temp dir, scraping each `job → port` on loopback every SCRAPE_SECONDS. */
  static async start(targets: Record<string, number>): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
    const jobs = Object.entries(targets).map(
      // honor_labels as the chart's ServiceMonitor: each process keeps its own `service` label.
      ([job, port]) =>
        `  - job_name: ${job}\n    honor_labels: true\n    static_configs: [{targets: ['127.0.0.1:${port}']}]`,
    );
    const config = `global: {scrape_interval: ${SCRAPE_SECONDS}s, scrape_timeout: ${SCRAPE_SECONDS}s, evaluation_interval: ${SCRAPE_SECONDS}s}\nscrape_configs:\n${jobs.join('\n')}\n`;
    writeFileSync(join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    let log = '';
    const child = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    const exited = new Promise((r) => child.once('exit', r));
    const p = new Prometheus(`http://127.0.0.1:${port}`, child, exited, dir);
    await waitFor(
      async () => child.exitCode === null && (await fetch(`${p.url}/-/ready`)).ok,
      `Prometheus ready (${log})`,
      30_000,
    );
    return p;
  }

  private async api<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) query.append(k, x);
    const res = await fetch(`${this.url}/api/v1/${path}?${query}`);
    const json = (await res.json()) as { status: string; data: T; error?: string };
    if (json.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${json.error}`);
    return json.data;
  }

  async instant(query: string, time: number): Promise<Series[]> {
    const data = await this.api<{ resultType: string; result: Series[] | Sample }>('query', {
      query,
      time: String(time),
    });
    // A scalar answer (e.g. `vector(0)` folded) is one unlabelled sample.
    return data.resultType === 'scalar'
      ? [{ metric: {}, value: data.result as Sample }]
      : (data.result as Series[]);
  }

  range(query: string, start: number, end: number, step: number): Promise<Series[]> {
    return this.api<{ result: Series[] }>('query_range', {
      query,
      start: String(start),
      end: String(end),
      step: `${step}s`,
    }).then((d) => d.result);
  }

  labelValues(label: string, match: string, start: number, end: number): Promise<string[]> {
    return this.api<string[]>(`label/${label}/values`, {
      'match[]': match,
      start: String(start),
      end: String(end),
    });
  }

  /** The value of a query that answers one series, or undefined. */
  async value(query: string): Promise<number | undefined> {
    const [first] = await this.instant(query, Date.now() / 1000);
    return first?.value ? Number(first.value[1]) : undefined;
  }

  async targetsUp(): Promise<boolean> {
    const data = await this.api<{ activeTargets: { health: string }[] }>('targets', { state: 'active' });
    return data.activeTargets.length > 0 && data.activeTargets.every((t) => t.health === 'up');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let platform: Platform;
let env: EnvTest;
let operator: ChildProcess | undefined;
let prometheus: Prometheus;
let cluster: Cluster;
let operatorExited: Promise<unknown> = Promise.resolve();

beforeAll(async () => {
  platform = await startPlatform();
  env = await EnvTest.start();
  await env.apply(join(ROOT, 'k8s/crd/seckillactivities.yaml'));
  cluster = new Cluster(env, `prom-${Date.now()}`);
  await cluster.namespace();
  const operatorPort = await freePort();
  operator = spawn(process.execPath, [OPERATOR], {
    env: {
      ...process.env,
      KUBECONFIG: env.kubeConfigFile(),
      PORT: String(operatorPort),
      LEADER_ELECTION: 'false',
      WATCH_NAMESPACE: cluster.ns,
      STAMPEDE_PREFIX: platform.prefix,
      DATABASE_SCHEMA: platform.schema,
      OPERATOR_LIVE_REFRESH_MS: '500',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  operatorExited = new Promise((r) => operator?.once('exit', r));
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${operatorPort}/readyz`)).ok,
    'operator ready',
    30_000,
  );
  prometheus = await Prometheus.start({ ...platform.ports, operator: operatorPort });
  await waitFor(() => prometheus.targetsUp(), 'every scrape target up', 30_000);
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  if (operator && operator.exitCode === null) operator.kill('SIGTERM');
  await operatorExited;
  await env?.stop();
  await platform?.cleanup();
}, 60_000);

interface SaleSummary {
  activity: string;
  requests: number;
  accepted: number;
  closed: number;
  orders: { rows: number };
  waitingRoom: { admitted: number } | null;
}

it('answers every panel query of every dashboard with data after a sale', async () => {
  const start = Date.now() / 1000 - 2 * SCRAPE_SECONDS;
  // The operator's sale: it opens at once and stays Live through the test. It scales a labelled Deployment,
  // so the operator exports its placeholder pods (0: the placeholder window is past) and, no pod running
  // on a bare API server, a negative capacity lead, for the pre-warm panel (issue 22).
  const operated = `obs-${Date.now().toString(36)}`;
  await cluster.deployment('web', 1);
  const targets = [{ name: 'web', minReplicas: 2, maxReplicas: 3 }];
  await cluster.create(operated, saleSpec({ startInMs: 1_000, lengthMs: 600_000, stock: 5, targets }));
  await cluster.waitPhase(operated, 'Live', 30_000);
  const sale = await runSale();
  expect(sale.closed).toBeGreaterThan(0);
  // A second sale behind a waiting room, for the room's panels (issue 21).
  const roomSale = await runSale([
    '--waiting-room',
    '--stock',
    '10',
    '--users',
    '60',
    '--requests-per-user',
    '1',
  ]);
  expect(roomSale.waitingRoom?.admitted).toBeGreaterThan(0);
  const end = await ingested(sale, operated, roomSale);

  const { failures, results } = await evaluateDashboards(start, end);
  console.log(`prometheus.test: ${results.size} panel queries evaluated over ${Math.round(end - start)} s`);
  expect(failures).toEqual([]);
  expect(results.size).toBe(loadDashboards().reduce((n, [f, d]) => n + panelQueries(f, d).length, 0));
  // The headline figure is exact: a sale that sells out within one scrape still shows every purchase (the
  // dashboard's "All" sums both sales).
  expect(results.get('sale.json #2 "Accepted purchases" A')?.map(last)).toEqual([
    sale.accepted + roomSale.accepted,
  ]);
  // Every sale answers accepted and sold_out in bulk within its first scrape: their latency still shows.
  const byOutcome = results.get('sale.json #4 "p99 latency by outcome" A') ?? [];
  expect(byOutcome.map((x) => x.metric.outcome)).toEqual(expect.arrayContaining(['accepted', 'sold_out']));
}, 240_000);

/**
 * `npx stampede sale --json` against the platform: by default 1200 requests for 40 units, half the orders
 * time out; `over` options come after the defaults and win.
 */
async function runSale(over: string[] = []): Promise<SaleSummary> {
  const { stdout } = await run(
    process.execPath,
    [
      BIN,
      'sale',
      '--json',
      ...['--stock', '40', '--users', '400', '--requests-per-user', '3', '--concurrency', '8'],
      ...['--pay-share', '0.5', '--payment-window', '2'],
      ...['--seckill-url', `http://127.0.0.1:${platform.ports.seckill}`],
      ...['--api-url', `http://127.0.0.1:${platform.ports.api}`],
      ...over,
    ],
    {
      env: { ...process.env, STAMPEDE_PREFIX: platform.prefix, DATABASE_SCHEMA: platform.schema },
      maxBuffer: 8 << 20,
    },
  );
  return JSON.parse(stdout) as SaleSummary;
}

/**
 * Waits until Prometheus holds the whole sale (every answer, every order, the closes, the drift and the
 * operator's phase), then answers an end of range that a later scrape of every target has passed, so the
 * range's last step sees everything the conditions saw.
 */
async function ingested(sale: SaleSummary, operated: string, roomSale: SaleSummary): Promise<number> {
  const wanted: [string, number][] = [
    [
      `sum(stampede_queue_admitted_total{activity="${roomSale.activity}"})`,
      roomSale.waitingRoom?.admitted ?? 1,
    ],
    [`sum(stampede_queue_wait_seconds_count{activity="${roomSale.activity}"})`, 1],
    [`sum(stampede_purchase_requests_total{activity="${sale.activity}"})`, sale.requests],
    ['sum(stampede_orders_persisted_total)', sale.orders.rows],
    ['sum(stampede_orders_closed_total)', sale.closed],
    [`count(stampede_reconcile_drift{activity="${sale.activity}"})`, 1],
    [`stampede_activity_phase{activity="${operated}",phase="Live"}`, 1],
    [`count(stampede_capacity_ready_lead_seconds{activity="${operated}"})`, 1],
    ['count(stampede_placeholder_pods{target="web"})', 2],
  ];
  // A condition wait, so the bound only matters on a machine too busy to scrape; on a timeout the error
  // names what was still short, and by how much.
  await waitFor(
    async () => {
      const short: string[] = [];
      for (const [query, atLeast] of wanted) {
        const v = (await prometheus.value(query)) ?? -1;
        if (v < atLeast) short.push(`${query} = ${v} < ${atLeast}`);
      }
      if (short.length) throw new Error(short.join('; '));
      return true;
    },
    'Prometheus to ingest the whole sale',
    120_000,
  );
  const end = Math.ceil(Date.now() / 1000) + SCRAPE_SECONDS;
  await waitFor(
    async () => ((await prometheus.value('min(timestamp(up))')) ?? 0) > end,
    'a scrape of every target after the sale',
    60_000,
  );
  return end;
}

/** Every panel query of every dashboard over [start, end], as Grafana would send it; what each answered. */
async function evaluateDashboards(start: number, end: number) {
  const failures: string[] = [];
  const results = new Map<string, Series[]>();
  const interval = { stepSeconds: SCRAPE_SECONDS, scrapeSeconds: SCRAPE_SECONDS, rangeSeconds: end - start };
  for (const [file, dashboard] of loadDashboards()) {
    const vars: Record<string, string> = {};
    for (const v of dashboard.templating.list) {
      if (v.type === 'datasource') continue;
      const { metric, label } = labelValuesQuery(v);
      const values = await prometheus.labelValues(label, metric, start, end);
      if (values.length === 0)
        failures.push(`${file} variable ${v.name}: label_values(${metric}, ${label}) is empty`);
      vars[v.name] = selected(v, values);
    }
    for (const q of panelQueries(file, dashboard)) {
      const expr = expand(q.expr, vars, interval);
      const series = q.instant
        ? await prometheus.instant(expr, end)
        : await prometheus.range(expr, start, end, SCRAPE_SECONDS);
      results.set(q.where, series);
      const problem = judge(series);
      if (problem) failures.push(`${q.where}: ${problem}\n    ${expr}`);
    }
  }
  return { failures, results };
}

const last = (s: Series): number | undefined => {
  const sample = s.value ?? s.values?.at(-1);
  return sample ? Number(sample[1]) : undefined;
};

/** Why a panel would show nothing or nonsense: no series, or a series without one finite value. */
function judge(series: Series[]): string | null {
  if (series.length === 0) return 'no series';
  for (const s of series) {
    const samples = s.values ?? (s.value ? [s.value] : []);
    if (!samples.some(([, v]) => Number.isFinite(Number(v))))
      return `series ${JSON.stringify(s.metric)} has no finite value (${samples
        .map(([, v]) => v)
        .slice(0, 5)
        .join(', ')})`;
  }
  return null;
}
