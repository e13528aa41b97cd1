// The processes `npm start` runs (scripts/start.mjs), on free ports, in the bench's own STAMPEDE_PREFIX and
// Postgres schema, with the rate limits off: the load is the crowd, not a limit.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';

const START = new URL('../../scripts/start.mjs', import.meta.url).pathname;

export interface BenchPlatform {
  ports: { api: number; seckill: number; orders: number };
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${log()}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`port ${port} did not become ready:\n${log()}`);
}

/** `logFile`: also write everything the processes print there (the bench's --trace-gc switch). */
export async function startPlatform(env: Record<string, string>, logFile?: string): Promise<BenchPlatform> {
  const ports = { api: await freePort(), seckill: await freePort(), orders: await freePort() };
  let out = '';
  const child = spawn(process.execPath, [START], {
    env: {
      ...process.env,
      SECKILL_RATE_GLOBAL: '0',
      SECKILL_RATE_PER_IP: '0',
      SECKILL_RATE_PER_USER: '0',
      LOG_LEVEL: 'warn',
      ...env,
      API_PORT: String(ports.api),
      SECKILL_PORT: String(ports.seckill),
      ORDERS_PORT: String(ports.orders),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const log = logFile ? createWriteStream(logFile) : undefined;
  if (log) {
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
  }
  const exited = new Promise<void>((r) => child.once('exit', () => (log?.end(), r())));
  for (const port of Object.values(ports)) await waitReady(port, child, () => out);
  return {
    ports,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGINT');
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(force);
    },
  };
}
