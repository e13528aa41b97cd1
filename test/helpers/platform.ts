import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { devSecretsPath, readDevSecrets, type DevSecrets } from '../../services/core/dev-secrets.js';
import {
  DATABASE_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  freePort,
  newRedis,
  randomPrefix,
  waitFor,
} from './env.js';

const START = new URL('../../scripts/start.mjs', import.meta.url).pathname;
export const ROOT_ADMIN = { email: 'root@stampede.test', password: 'root-password-0123' };

export interface Platform {
  child: ChildProcess;
  prefix: string;
  schema: string;
  ports: { api: number; seckill: number; orders: number };
  /** The secrets the platform runs with: the caller's, else the checkout's .stampede/secrets.json. */
  secrets: DevSecrets;
  output(): string;
  exited: Promise<number | null>;
  cleanup(): Promise<void>;
}

/** `npm start` (scripts/start.mjs) on free ports, in its own Postgres schema and STAMPEDE_PREFIX. */
export async function startPlatform(env: Record<string, string> = {}): Promise<Platform> {
  const prefix = randomPrefix('plat');
  const schema = `plat_${process.pid}_${Date.now()}`;
  const ports = { api: await freePort(), seckill: await freePort(), orders: await freePort() };
  let out = '';
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    API_PORT: String(ports.api),
    SECKILL_PORT: String(ports.seckill),
    ORDERS_PORT: String(ports.orders),
    STAMPEDE_PREFIX: prefix,
    DATABASE_SCHEMA: schema,
    ADMIN_EMAIL: ROOT_ADMIN.email,
    ADMIN_PASSWORD: ROOT_ADMIN.password,
    LOG_LEVEL: 'warn',
    ORDERS_SWEEP_INTERVAL_MS: '200',
    ...env,
  };
  const child = spawn(process.execPath, [START], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    // start.mjs may rebuild first: a busy machine takes a while, so a generous bound.
    for (const port of Object.values(ports)) {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
        `port ${port} ready`,
        120_000,
      );
    }
  } catch (err) {
    // No Platform to clean up reaches the caller: stop the services here rather than orphan them.
    child.kill('SIGINT');
    throw new Error(`${(err as Error).message}\n${out.slice(-4000)}`);
  }
  const file = readDevSecrets(devSecretsPath()) ?? {};
  const secret = (name: keyof DevSecrets) => childEnv[name] || file[name] || '';
  return {
    child,
    prefix,
    schema,
    ports,
    secrets: { JWT_SECRET: secret('JWT_SECRET'), PAYMENT_WEBHOOK_SECRET: secret('PAYMENT_WEBHOOK_SECRET') },
    exited,
    output: () => out,
    async cleanup() {
      // SIGINT lets the supervisor stop its services; a SIGKILL would orphan them.
      if (child.exitCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      const redis = newRedis();
      await dropAmqpPrefix(prefix);
      await dropRedisPrefix(redis, prefix);
      await redis.quit();
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}
