// `npm run bench`: one run, the same wrk load (one thread, BENCH_CONNECTIONS keep-alive connections, the
// next shopper's token on every request) against a bare node:http hello, an Express hello and the
// processes `npm start` runs: a sale-shaped crowd, a sold-out hammer and the success path, the waiting
// room's joins and status polls (bench/room.ts) and a sale behind it (bench/room-sale.ts), and what
// tracing and the cluster-wide limits cost (bench/costs.ts), and where the sale's tail comes from (each
// seckill worker's event-loop delay and GC pauses, the p99 by outcome: bench/tail.ts, bench/split.ts). Each purchase
// scenario is checked (no oversell, no duplicate, every 202 a row); figures are printed last as
// `name: value`, ratios against the bare node:http hello of the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { TokenService } from '../services/core/auth/jwt.js';
import { createSequelize } from '../services/core/db/connect.js';
import { createLogger } from '../services/core/log.js';
import { loadSeckillConfig } from '../services/seckill/config.js';
import { PurchaseTokens } from '../services/seckill/purchase-token.js';
import { dropBenchPrefix } from './cleanup.js';
import { serve } from './load.js';
import { limitsCost, onPlatform, tracingCost } from './costs.js';
import { preflight } from './preflight.js';
import { queueScenarios, type QueueFigures } from './room.js';
import { roomSale, type RoomSale } from './room-sale.js';
import { roomLines } from './room-report.js';
import { broken, purchaseScenario, signTokens, type BenchContext, type Checked } from './scenarios.js';
import { splitScenario } from './split.js';
import { diagnosis } from './tail.js';
import { tailLines, timelineLine, workerPids } from './tail-report.js';
import { benchWorker, type WorkerFigures } from './worker.js';
import { ensureWrk, wrk, writeTokens, type WrkResult } from './wrk.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
/**
 * BENCH_ONLY: a comma list of worker, hello, sale, soldout, token, ok, queue (joins and polls), roomsale,
 * traced, limits (empty: everything).
 */
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const wanted = (part: string) =>
  ONLY.length === 0 || ONLY.includes(part) || (ONLY.includes('http') && part !== 'worker');

async function hello(mode: string, path: string, tokensFile: string): Promise<WrkResult> {
  const s = await serve(mode);
  try {
    await wrk({ url: s.url, path, tokensFile, connections: CONNECTIONS, durationSeconds: 1 });
    return await wrk({ url: s.url, path, tokensFile, connections: CONNECTIONS, durationSeconds: DURATION });
  } finally {
    s.child.kill('SIGKILL');
  }
}

/**
 * What a purchase token costs: the sale-shaped crowd again on a sale that requires one (tokens signed
 * here as the seckill would issue them), and the token route itself under the same load.
 */
async function tokenScenarios(c: BenchContext, crowd: string[]): Promise<Record<string, Checked>> {
  const activity = 'bench-sale-token';
  const issuer = new PurchaseTokens(c.secret, undefined, 600_000);
  const lines = crowd.map((jwt, i) => `${jwt}\t${issuer.issue(activity, `s${i}`).token}`);
  const spec = { purchaseToken: { required: true, challenge: 'none' } };
  const sale = await purchaseScenario(c, { activity, stock: 1000, shoppers: lines, spec });
  const file = writeTokens(join(c.dir, 'issue.tokens'), crowd);
  const issue = await wrk({
    url: c.seckillUrl,
    path: `/seckill/${activity}/token`,
    tokensFile: file,
    connections: c.connections,
    durationSeconds: c.durationSeconds,
  });
  return { sale_token: sale, token_issue: { ...sale, load: issue, accepted: 0, rows: 0, invariants: NONE } };
}

const NONE = { oversold: 0, duplicate: 0, lost: 0, unannounced: 0 };

/** What runs on the main platform: the purchase scenarios, then the waiting room's. */
interface OnMain {
  p: Record<string, Checked>;
  queue: QueueFigures;
  roomSale?: RoomSale;
}

async function onMain(c: BenchContext): Promise<OnMain> {
  const p = ['sale', 'soldout', 'token', 'ok'].some(wanted) ? await purchases(c) : {};
  const queue = wanted('queue') ? await queueScenarios(c) : {};
  return { p, queue, ...(wanted('roomsale') ? { roomSale: await roomSale(c) } : {}) };
}

async function purchases(c: BenchContext): Promise<Record<string, Checked>> {
  const crowd = await signTokens(c.tokens, 20_000, 's');
  const out: Record<string, Checked> = {};
  if (wanted('sale')) {
    out.sale = await purchaseScenario(c, { activity: 'bench-sale', stock: 1000, shoppers: crowd });
    // The same crowd once more with a client that times each answer by its outcome (wrk cannot).
    out.sale_split = await splitScenario(c, crowd);
  }
  if (wanted('soldout')) {
    const shoppers = crowd.slice(0, 2000);
    out.soldout = await purchaseScenario(c, { activity: 'bench-soldout', stock: 0, shoppers });
  }
  if (wanted('token')) Object.assign(out, await tokenScenarios(c, crowd));
  if (wanted('ok')) {
    // Every request a new buyer: more tokens than the bare hello could answer in the same time.
    const buyers = await signTokens(c.tokens, 30_000 * DURATION, 'b');
    out.ok = await purchaseScenario(c, { activity: 'bench-ok', stock: 100_000_000, shoppers: buyers });
  }
  return out;
}

function report(
  hellos: Record<string, WrkResult>,
  p: Record<string, Checked>,
  w: WorkerFigures | undefined,
  room: Omit<OnMain, 'p'>,
): void {
  const all = { ...hellos, ...p, ...room.queue, ...(room.roomSale ? { room_sale: room.roomSale } : {}) };
  for (const [name, r] of Object.entries(all)) console.log(`# ${name}: ${JSON.stringify(r)}`);
  const f = (n: number | undefined) => (n ?? 0).toFixed(2);
  const bare = hellos.bare?.rps ?? 0;
  const ratio = (n: number | undefined) => f(bare && n !== undefined ? n / bare : 0);
  const okRps = p.ok ? p.ok.accepted / DURATION : undefined;
  const lines: [string, string][] = [
    ['connections', String(CONNECTIONS)],
    ['duration_s', String(DURATION)],
    ['bare_rps', f(hellos.bare?.rps)],
    ['bare_p99_ms', f(hellos.bare?.p99Ms)],
    ['express_rps', f(hellos.express?.rps)],
    ['express_p99_ms', f(hellos.express?.p99Ms)],
    ['sale_rps', f(p.sale?.load.rps)],
    ['sale_p99_ms', f(p.sale?.load.p99Ms)],
    ['soldout_rps', f(p.soldout?.load.rps)],
    ['soldout_p99_ms', f(p.soldout?.load.p99Ms)],
    ['ok_rps', f(okRps)],
    ['ok_p99_ms', f(p.ok?.load.p99Ms)],
    ['ok_drain_s', f(p.ok?.drainSeconds)],
    ['sale_token_rps', f(p.sale_token?.load.rps)],
    ['sale_token_p99_ms', f(p.sale_token?.load.p99Ms)],
    ['ratio_sale_token_vs_plain', f(p.sale && p.sale_token ? p.sale_token.load.rps / p.sale.load.rps : 0)],
    [
      'token_issue_rps',
      f(p.token_issue ? (p.token_issue.load.requests - p.token_issue.load.non2xx) / DURATION : undefined),
    ],
    ['token_issue_p99_ms', f(p.token_issue?.load.p99Ms)],
    ['sale_traced_rps', f(p.sale_traced?.load.rps)],
    ['sale_untraced_rps', f(p.sale_untraced?.load.rps)],
    [
      'ratio_sale_traced_vs_untraced',
      f(p.sale_untraced && p.sale_traced ? p.sale_traced.load.rps / p.sale_untraced.load.rps : 0),
    ],
    ['sale_unlimited_rps', f(p.sale_unlimited?.load.rps)],
    ['sale_limited_rps', f(p.sale_limited?.load.rps)],
    ['sale_unlimited_p99_ms', f(p.sale_unlimited?.load.p99Ms)],
    ['sale_limited_p99_ms', f(p.sale_limited?.load.p99Ms)],
    [
      'ratio_sale_limited_vs_unlimited',
      f(p.sale_unlimited && p.sale_limited ? p.sale_limited.load.rps / p.sale_unlimited.load.rps : 0),
    ],
    ['ok_unlimited_rps', f(p.ok_unlimited ? p.ok_unlimited.accepted / DURATION : undefined)],
    ['ok_limited_rps', f(p.ok_limited ? p.ok_limited.accepted / DURATION : undefined)],
    ['ok_unlimited_p99_ms', f(p.ok_unlimited?.load.p99Ms)],
    ['ok_limited_p99_ms', f(p.ok_limited?.load.p99Ms)],
    [
      'ratio_ok_limited_vs_unlimited',
      f(p.ok_unlimited && p.ok_limited ? p.ok_limited.accepted / p.ok_unlimited.accepted : 0),
    ],
    ['ratio_sale_vs_bare', ratio(p.sale?.load.rps)],
    ['ratio_soldout_vs_bare', ratio(p.soldout?.load.rps)],
    ['ratio_ok_vs_bare', ratio(okRps)],
    ['ratio_sale_p99_vs_bare', f(hellos.bare?.p99Ms ? (p.sale?.load.p99Ms ?? 0) / hellos.bare.p99Ms : 0)],
    ['worker_rows_per_s', f(w?.workerRowsPerS)],
    ['pg_batch_insert_rows_per_s', f(w?.pgRowsPerS)],
    ['ratio_worker_vs_pg', f(w ? w.workerRowsPerS / w.pgRowsPerS : 0)],
  ];
  // Where the cores went, per accepted order (ok) and per answer (sold out): the profile of what is left.
  const perUnit = (r: Checked | undefined, units: number, tag: string) =>
    Object.entries(r?.cores ?? {})
      .filter(([name]) => name !== 'other' && units > 0)
      .map(([name, cores]): [string, string] => [
        `${tag}_cpu_us_${name}`,
        f((cores * DURATION * 1e6) / units),
      ]);
  lines.push(...perUnit(p.ok, p.ok?.accepted ?? 0, 'ok_per_order'));
  lines.push(...perUnit(p.soldout, p.soldout?.load.requests ?? 0, 'soldout_per_answer'));
  lines.push(...roomLines(room.queue, room.roomSale, hellos.bare, DURATION));
  lines.push(...tailLines(p));
  for (const [k, v] of lines) console.log(`${k}: ${v}`);
}

async function main(): Promise<void> {
  const config = loadSeckillConfig({ ...process.env, STAMPEDE_PREFIX: `bench-${process.pid}` });
  const problems = [ensureWrk(), ...(await preflight(config))].filter((p): p is string => p !== null);
  if (problems.length) {
    for (const p of problems) console.error(`bench: ${p}`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'stampede-bench-'));
  const schema = `bench_${process.pid}`;
  const redis = new Redis(config.redisUrl);
  const db = createSequelize({ url: config.databaseUrl, log: createLogger('bench', 'warn'), schema });
  const tokens = new TokenService(config.jwtSecret);
  const hellos: Record<string, WrkResult> = {};
  let p: Record<string, Checked> = {};
  let room: Omit<OnMain, 'p'> = { queue: {} };
  let w: WorkerFigures | undefined;
  try {
    if (wanted('worker'))
      w = await benchWorker(redis, `${config.prefix}-w`, Number(process.env.BENCH_WORKER_ROWS ?? 20_000));
    if (wanted('hello')) {
      const helloTokens = writeTokens(join(dir, 'hello.tokens'), await signTokens(tokens, 2000, 'h'));
      hellos.bare = await hello('bare', '/', helloTokens);
      hellos.express = await hello('express', '/hello', helloTokens);
    }
    const base = {
      db,
      redis,
      prefix: config.prefix,
      tokens,
      secret: config.jwtSecret,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      dir,
    };
    // The bench signs the crowd's tokens with config.jwtSecret: npm start must verify with it, not with the
    // checkout's generated .stampede/secrets.json.
    const platformEnv = {
      STAMPEDE_PREFIX: config.prefix,
      DATABASE_SCHEMA: schema,
      JWT_SECRET: config.jwtSecret,
    };
    if (['sale', 'soldout', 'token', 'ok', 'queue', 'roomsale'].some(wanted)) {
      // The tail's diagnostics (and the switches BENCH_SEMI_SPACE_MB, BENCH_SECKILL_PROFILE) on the main
      // platform only: the cost comparisons below stay as they were.
      const d = diagnosis();
      console.log(`# main platform: ${d.described}${d.dir ? `; profiles and logs in ${d.dir}` : ''}`);
      const env = { ...platformEnv, ...d.env };
      ({ p, ...room } = await onPlatform(env, (seckillUrl) => onMain({ ...base, seckillUrl }), d.logFile));
      console.log(`# seckill worker pids (w0, w1, …): ${workerPids(p)}`);
      for (const [name, r] of Object.entries(p))
        if (r.load.timeline)
          console.log(`# ${name} timeline (ms:answers/202s per 50 ms): ${r.load.timeline}`);
      const timeline = timelineLine(p);
      if (timeline) console.log(`# sale split timeline (answers/p99 per quarter second): ${timeline}`);
    }
    if (wanted('traced')) Object.assign(p, await tracingCost(base, platformEnv));
    if (wanted('limits')) Object.assign(p, await limitsCost(base, platformEnv));
  } finally {
    await dropBenchPrefix(redis, config.prefix, config.amqpUrl).catch(() => undefined);
    await dropBenchPrefix(redis, `${config.prefix}-w`, config.amqpUrl).catch(() => undefined);
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.close();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
  report(hellos, p, w, room);
  const checked = { ...p, ...(room.roomSale ? { room_sale: room.roomSale } : {}) };
  const failures = Object.entries(checked).flatMap(([name, r]) => broken(name, r));
  for (const f of failures) console.error(`bench: ${f}`);
  if (failures.length) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
