// SECKILL_DIAGNOSTICS against the built process, as the bench reads it (bench/tail.ts): with it on, the
// cluster primary's aggregated /metrics holds each worker's event-loop delay and GC pauses under that
// worker's pid, and the window between two scrapes carries the purchases made in it; with it off, no
// diagnostics series exists at all.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { closeWindow, openWindow } from '../../bench/tail.js';
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

const workersOf = async (pid: number): Promise<number[]> => {
  const { stdout } = await run('pgrep', ['-P', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
};

interface Started {
  child: ChildProcess;
  url: string;
}

async function seckill(prefix: string, env: Record<string, string>, workers: number): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: String(port), STAMPEDE_PREFIX: prefix, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  if (workers > 1)
    await waitFor(async () => (await workersOf(child.pid as number)).length === workers, 'the workers');
  await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok, 'ready');
  return { child, url };
}

describe('seckill diagnostics (SECKILL_DIAGNOSTICS)', () => {
  const prefix = randomPrefix('diag');
  let redis: Redis;
  const started: Started[] = [];
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
    redis = newRedis();
  });
  afterAll(async () => {
    for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await dropAmqpPrefix(prefix);
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  });

  it('reports every worker under its pid, and the purchases of the window', async () => {
    const s = await seckill(prefix, { SECKILL_WORKERS: '2', SECKILL_DIAGNOSTICS: '1' }, 2);
    started.push(s);
    const a = await liveActivity(redis, prefix, { total: 100 });
    // Each worker must hold its broker channel before it sells (connections spread over both).
    for (let i = 0; i < 6; i++) await waitFor(async () => (await fetch(`${s.url}/readyz`)).ok, 'ready');
    const window = await openWindow(s.url);
    const users = await Promise.all(
      Array.from({ length: 10 }, (_, i) => tokens.sign({ userId: `d${i}`, role: 'user' })),
    );
    const answers = await Promise.all(
      users.map((t) =>
        fetch(`${s.url}/seckill/${a.name}`, { method: 'POST', headers: { authorization: `Bearer ${t}` } }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(users.map(() => 202));
    const tail = await closeWindow(s.url, window);
    const pids = (await workersOf(s.child.pid as number)).sort((x, y) => x - y);
    expect(tail.workers.map((w) => Number(w.pid))).toEqual(pids);
    for (const w of tail.workers) expect(w.gcPauses).toHaveProperty('minor');
    expect(Object.keys(tail.serverP99Ms)).toEqual(['accepted']);
  });

  it('exports nothing of the kind when off', async () => {
    const s = await seckill(prefix, { SECKILL_WORKERS: '1' }, 1);
    started.push(s);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(text).toContain('stampede_purchase_duration_seconds_bucket');
    expect(text).not.toContain('stampede_diagnostics_');
  });
});
