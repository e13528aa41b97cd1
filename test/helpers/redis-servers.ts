// Throwaway Redis servers for the Redis-mode tests: a master with a replica and three Sentinels, or a
// three-master Redis Cluster, on loopback ports of their own in a temp dir (never the shared 6379).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './env.js';
import { waitReady } from './seckill.js';

const run = promisify(execFile);

export interface RedisProcess {
  port: number;
  proc: ChildProcess;
  /** Resolves when the process exited. */
  exited: Promise<void>;
  client(): Redis;
}

async function isFree(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A port below 55000 whose cluster bus port (+10000) is free too; random, so parallel suites rarely meet. */
export async function freeRedisPort(taken: Set<number> = new Set()): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await isFree(port)) && (await isFree(port + 10000))) {
      taken.add(port);
      taken.add(port + 10000);
      return port;
    }
  }
}

export class RedisServers {
  readonly dir = mkdtempSync(join(tmpdir(), 'stampede-redis-'));
  private readonly procs: RedisProcess[] = [];
  private readonly clients: Redis[] = [];
  private readonly taken = new Set<number>();

  port(): Promise<number> {
    return freeRedisPort(this.taken);
  }

  /** redis-server with `args` (plus port, loopback, no persistence) or, with a config file, that file. */
  async start(port: number, args: string[] = [], configFile?: string): Promise<RedisProcess> {
    const base = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const argv = configFile ? [configFile, ...args] : [...base, '--dir', this.dir, ...args];
    const proc = spawn('redis-server', argv, { stdio: ['ignore', 'ignore', 'pipe'], cwd: this.dir });
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    const p: RedisProcess = { port, proc, exited, client: () => this.client(port) };
    this.procs.push(p);
    await waitFor(async () => (await this.ping(port)) === 'PONG', `redis-server on ${port}`, 30_000);
    return p;
  }

  /** A short-lived admin connection (closed in stop()); never retries, so a dead server is an error. */
  client(port: number): Redis {
    const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    this.clients.push(c);
    return c;
  }

  private async ping(port: number): Promise<string | null> {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return await c.ping();
    } catch {
      return null;
    } finally {
      c.disconnect();
    }
  }

  async kill(p: RedisProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    p.proc.kill(signal);
    await p.exited;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    for (const p of this.procs)
      if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => p.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SentinelGroup {
  name: string;
  master: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** `REDIS_SENTINELS` for the processes under test. */
  env: Record<string, string>;
  /** The master's address as the Sentinels see it now. */
  masterPort(): Promise<number>;
}

/**
 * A master, one replica and three Sentinels (quorum 2). Resolves once the replica is in sync and every
 * Sentinel knows the replica and the two other Sentinels, so a failover can happen at once.
 */
export async function startSentinelGroup(s: RedisServers, name = 'stampede'): Promise<SentinelGroup> {
  const master = await s.start(await s.port());
  const replica = await s.start(await s.port(), ['--replicaof', '127.0.0.1', String(master.port)]);
  await waitFor(
    async () => /master_link_status:up/.test(await replica.client().info('replication')),
    'replica in sync',
    30_000,
  );
  const sentinels: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await s.port();
    const file = join(s.dir, `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${s.dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(await s.start(port, ['--sentinel'], file));
  }
  for (const sn of sentinels) {
    const c = sn.client();
    await waitFor(
      async () => {
        const replicas = (await c.call('SENTINEL', 'REPLICAS', name)) as unknown[];
        const others = (await c.call('SENTINEL', 'SENTINELS', name)) as unknown[];
        return replicas.length === 1 && others.length === 2;
      },
      `sentinel ${sn.port} knows the replica and its peers`,
      60_000,
    );
  }
  const first = sentinels[0] as RedisProcess;
  return {
    name,
    master,
    replica,
    sentinels,
    env: {
      REDIS_SENTINELS: sentinels.map((x) => `127.0.0.1:${x.port}`).join(','),
      REDIS_SENTINEL_NAME: name,
    },
    masterPort: async () => {
      const addr = (await first.client().call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[];
      return Number(addr[1]);
    },
  };
}

export interface RedisClusterServers {
  masters: RedisProcess[];
  /** `REDIS_CLUSTER_NODES` for the processes under test. */
  env: Record<string, string>;
}

/** Three masters (no replicas), all 16384 slots assigned, `cluster_state:ok` on every node. */
export async function startRedisCluster(s: RedisServers, size = 3): Promise<RedisClusterServers> {
  const masters: RedisProcess[] = [];
  for (let i = 0; i < size; i++) {
    const port = await s.port();
    masters.push(
      await s.start(port, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(s.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '5000',
      ]),
    );
  }
  const addrs = masters.map((m) => `127.0.0.1:${m.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], {
    timeout: 60_000,
  });
  await waitClusterOk(masters);
  return { masters, env: { REDIS_CLUSTER_NODES: addrs.join(',') } };
}

export async function waitClusterOk(masters: RedisProcess[]): Promise<void> {
  for (const m of masters) {
    const c = m.client();
    await waitFor(
      async () => /cluster_state:ok/.test((await c.call('CLUSTER', 'INFO')) as string),
      `cluster state ok on ${m.port}`,
      60_000,
    );
  }
}

const SECKILL_MAIN = new URL('../../dist/services/seckill/main.js', import.meta.url).pathname;

export interface BuiltSeckill {
  url: string;
  child: ChildProcess;
  /** Resolves when the process exited. */
  exited: Promise<void>;
}

/** The built seckill service (`npm run build`) as one process of its own, rate limits off, ready. */
export async function spawnBuiltSeckill(prefix: string, env: Record<string, string>): Promise<BuiltSeckill> {
  if (!existsSync(SECKILL_MAIN))
    throw new Error(`${SECKILL_MAIN} is missing: run npm run build first (npm test does)`);
  const port = await freePort();
  const child = spawn(process.execPath, [SECKILL_MAIN], {
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      STAMPEDE_PREFIX: prefix,
      SECKILL_WORKERS: '1',
      LOG_LEVEL: process.env.TEST_SECKILL_LOG ? 'info' : 'warn',
      SECKILL_RATE_GLOBAL: '0',
      SECKILL_RATE_PER_IP: '0',
      SECKILL_RATE_PER_USER: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // TEST_SECKILL_LOG=<dir>: each process' log lines in <dir>/seckill-<port>.log, for a failing run.
  const logDir = process.env.TEST_SECKILL_LOG;
  if (logDir) {
    const out = createWriteStream(join(logDir, `seckill-${port}.log`));
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const s = { url: `http://127.0.0.1:${port}`, child, exited };
  await waitReady(s.url);
  return s;
}
