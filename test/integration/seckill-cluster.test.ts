// SECKILL_WORKERS processes on one port (node:cluster), against the built process: every worker serves,
// /metrics answers for all of them whichever one is asked, a killed worker is replaced while the others
// keep serving, and SIGTERM drains every worker and exits 0.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { liveActivity } from '../helpers/activity.js';
import {
  dropAmqpPrefix,
  dropRedisPrefix,
  freePort,
  newRedis,
  randomPrefix,
  tokens,
  waitFor,
} from '../helpers/env.js';

const MAIN = new URL('../../dist/services/seckill/main.js', import.meta.url).pathname;
const run = promisify(execFile);

/** One request on its own connection, so the cluster's round robin spreads them over the workers. */
function fresh(
  port: number,
  method: string,
  path: string,
  token?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // A connection the primary handed to a worker that was killed at that moment is never answered.
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.end();
  });
}

const workersOf = async (pid: number): Promise<number[]> => {
  const { stdout } = await run('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
};

const acceptedIn = (metrics: string, activity: string): number =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith('stampede_purchase_requests_total{') && l.includes(`activity="${activity}"`))
    .filter((l) => l.includes('outcome="accepted"'))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

describe('seckill on every core', () => {
  const prefix = randomPrefix('cluster');
  let redis: Redis;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let port: number;
  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
    redis = newRedis();
    port = await freePort();
    child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PORT: String(port),
        STAMPEDE_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        SECKILL_WORKERS: '3',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    exited = new Promise((r) => child.on('exit', (code) => r(code)));
    await waitFor(async () => (await workersOf(child.pid as number)).length === 3, 'three workers');
    await waitFor(async () => (await fresh(port, 'GET', '/readyz')).status === 200, 'ready');
  });
  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await dropAmqpPrefix(prefix);
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  it('serves from every worker and reports the metrics of all of them on any connection', async () => {
    const a = await liveActivity(redis, prefix, { total: 1000 });
    const users = await Promise.all(
      Array.from({ length: 30 }, (_, i) => tokens.sign({ userId: `c${i}`, role: 'user' })),
    );
    // Readiness of every worker: each must have its broker channel before it is asked to sell.
    for (let i = 0; i < 9; i++) {
      await waitFor(async () => (await fresh(port, 'GET', '/readyz')).status === 200, 'every worker ready');
    }
    const answers = await Promise.all(users.map((t) => fresh(port, 'POST', `/seckill/${a.name}`, t)));
    expect(answers.map((r) => r.status)).toEqual(users.map(() => 202));
    // Each scrape lands on some worker; each must count all 30 (a worker's own view holds only its share).
    for (let i = 0; i < 6; i++) {
      expect(acceptedIn((await fresh(port, 'GET', '/metrics')).body, a.name)).toBe(30);
    }
  });

  it('replaces a killed worker while the others keep serving', async () => {
    const before = await workersOf(child.pid as number);
    process.kill(before[0] as number, 'SIGKILL');
    // Connections in the killed worker's hands die with it (until the primary notices); the others answer.
    await waitFor(async () => (await fresh(port, 'GET', '/healthz')).status === 200, 'an answer');
    await waitFor(async () => {
      const now = await workersOf(child.pid as number);
      return now.length === 3 && !now.includes(before[0] as number);
    }, 'the killed worker to be replaced');
    await waitFor(async () => (await fresh(port, 'GET', '/readyz')).status === 200, 'ready');
    for (let i = 0; i < 9; i++) expect((await fresh(port, 'GET', '/healthz')).status).toBe(200);
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    const workers = await workersOf(child.pid as number);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const alive = workers.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});
