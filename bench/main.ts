// `npm run bench`: one run, one process tree, the same autocannon load (connections, duration) against a
// bare node:http hello, an Express hello, the purchase path with stock left and the purchase path sold out.
// Figures are printed last as `name: value`; ratios compare against the Express hello of the same run.
import { Redis } from 'ioredis';
import { preheat } from '../services/core/activity/preheat.js';
import { TokenService } from '../services/core/auth/jwt.js';
import { loadSeckillConfig } from '../services/seckill/config.js';
import { dropBenchPrefix } from './cleanup.js';
import { load, serve, type LoadResult } from './load.js';
import { benchWorker, type WorkerFigures } from './worker.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);

async function signAll(tokens: TokenService, n: number, tag: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`Bearer ${await tokens.sign({ userId: `${tag}${i}`, role: 'user' })}`);
  return out;
}

async function measure(
  mode: string,
  path: string,
  env: Record<string, string>,
  auth?: () => string,
): Promise<LoadResult> {
  const s = await serve(mode, env);
  try {
    // A short warm-up so JIT and connection set-up do not count.
    await load({ url: s.url, path, connections: CONNECTIONS, durationSeconds: 1, ...(auth ? { auth } : {}) });
    return await load({
      url: s.url,
      path,
      connections: CONNECTIONS,
      durationSeconds: DURATION,
      ...(auth ? { auth } : {}),
    });
  } finally {
    s.child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const prefix = `bench-${process.pid}`;
  const env = { STAMPEDE_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const config = loadSeckillConfig({ ...process.env, ...env });
  const redis = new Redis(config.redisUrl);
  const tokens = new TokenService(config.jwtSecret);
  const now = Date.now();
  const window = {
    startMs: now - 60_000,
    endMs: now + 3_600_000,
    maxPerUser: 1,
    price: '1.00',
    paused: false,
  };
  await preheat(redis, prefix, { name: 'bench-ok', total: 10_000_000, ...window });
  await preheat(redis, prefix, { name: 'bench-soldout', total: 0, ...window });

  // Every successful purchase needs its own user; the sold-out crowd retries with the same few thousand.
  const buyers = await signAll(tokens, 60_000 * Math.max(1, Math.ceil(DURATION / 10)), 'b');
  const crowd = await signAll(tokens, 2000, 'c');
  let i = 0;
  let j = 0;
  const results: Record<string, LoadResult> = {};
  let worker: WorkerFigures | undefined;
  try {
    const only = process.env.BENCH_ONLY ?? '';
    worker = await benchWorker(redis, `${prefix}-w`, Number(process.env.BENCH_WORKER_ROWS ?? 20_000));
    if (only !== 'worker') {
      results.bare = await measure('bare', '/', env);
      results.express = await measure('express', '/hello', env);
      results.ok = await measure(
        'seckill',
        '/seckill/bench-ok',
        env,
        () => buyers[i++ % buyers.length] as string,
      );
      results.soldout = await measure(
        'seckill',
        '/seckill/bench-soldout',
        env,
        () => crowd[j++ % crowd.length] as string,
      );
    }
  } finally {
    await dropBenchPrefix(redis, prefix, config.amqpUrl);
    await dropBenchPrefix(redis, `${prefix}-w`, config.amqpUrl);
    redis.disconnect();
  }
  for (const [name, r] of Object.entries(results)) {
    console.log(`# ${name}: ${JSON.stringify(r)}`);
  }
  const f = (n: number) => n.toFixed(2);
  const ratio = (a: LoadResult | undefined) => (a && results.express ? a.rps / results.express.rps : 0);
  console.log(`connections: ${CONNECTIONS}`);
  console.log(`duration_s: ${DURATION}`);
  console.log(`bare_rps: ${f(results.bare?.rps ?? 0)}`);
  console.log(`express_rps: ${f(results.express?.rps ?? 0)}`);
  console.log(`purchase_ok_rps: ${f(results.ok?.rps ?? 0)}`);
  console.log(`purchase_soldout_rps: ${f(results.soldout?.rps ?? 0)}`);
  console.log(`ratio_ok_vs_express: ${f(ratio(results.ok))}`);
  console.log(`ratio_soldout_vs_express: ${f(ratio(results.soldout))}`);
  console.log(`purchase_p99_ms: ${f(results.ok?.p99Ms ?? 0)}`);
  console.log(`worker_rows_per_s: ${f(worker?.workerRowsPerS ?? 0)}`);
  console.log(`pg_batch_insert_rows_per_s: ${f(worker?.pgRowsPerS ?? 0)}`);
  console.log(`ratio_worker_vs_pg: ${f(worker ? worker.workerRowsPerS / worker.pgRowsPerS : 0)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
