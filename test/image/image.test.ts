// The real image (npm run image) run the way the chart runs it: uid 10001, read-only root, no capabilities,
// against the machine's Postgres/Redis/RabbitMQ (host network) under a fresh prefix and schema.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { testSchema, type TestSchema } from '../helpers/db.js';
import {
  AMQP_URL,
  DATABASE_URL,
  REDIS_URL,
  dropAmqpPrefix,
  dropRedisPrefix,
  freePort,
  newRedis,
  randomPrefix,
  waitFor,
} from '../helpers/env.js';
import { buildImage, Container, type BuiltImage } from './podman.js';

const ROOT = new URL('../../', import.meta.url).pathname;
// A cold build (base from debootstrap, two npm ci, tsc + vite) takes minutes on 2 busy cores.
const COLD_BUILD_MS = 40 * 60_000;
// Long enough that the test sees readiness flip before the listener closes, even on a busy machine.
const DELAY_SECONDS = 5;
// The chart's terminationGracePeriodSeconds: the kubelet SIGKILLs a pod that has not exited by then.
const GRACE_MS = 45_000;

let image: BuiltImage;
let api: Container;
let schema: TestSchema;
let url: string;
/** MANAGEMENT_PORT, as the chart sets it: /healthz, /readyz and /metrics there, the storefront on PORT. */
let mgmt: string;
const prefix = randomPrefix('img');

beforeAll(async () => {
  image = await buildImage();
  schema = await testSchema();
  const port = await freePort();
  const managementPort = await freePort();
  url = `http://127.0.0.1:${port}`;
  mgmt = `http://127.0.0.1:${managementPort}`;
  api = new Container(image);
  await api.start({
    JWT_SECRET: randomBytes(24).toString('hex'),
    PAYMENT_WEBHOOK_SECRET: randomBytes(24).toString('hex'),
    DATABASE_URL,
    DATABASE_SCHEMA: schema.schema,
    REDIS_URL,
    AMQP_URL,
    STAMPEDE_PREFIX: prefix,
    PORT: String(port),
    MANAGEMENT_PORT: String(managementPort),
    SHUTDOWN_DELAY_SECONDS: String(DELAY_SECONDS),
  });
  await waitFor(
    async () => (await fetch(`${mgmt}/readyz`)).status === 200,
    'the api container to be ready',
    120_000,
  ).catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${await api.logs()}`);
  });
}, COLD_BUILD_MS);

afterAll(async () => {
  await api?.remove();
  await schema?.drop();
  const redis = newRedis();
  await dropRedisPrefix(redis, prefix);
  redis.disconnect();
  await dropAmqpPrefix(prefix).catch(() => undefined);
});

describe('the stampede image', () => {
  it('is a tagged image of a plausible size', () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
    expect(image.name).toBe(`docker.io/library/stampede:${version}`);
    expect(image.sizeBytes).toBeGreaterThan(100e6);
    expect(image.sizeBytes).toBeLessThan(700e6);
  });

  it('answers /healthz, /readyz, the storefront at / and /metrics', async () => {
    expect((await fetch(`${mgmt}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${mgmt}/readyz`)).json()).toEqual({ status: 'ready' });
    const home = await fetch(`${url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await home.text();
    const asset = /(?:src|href)="(\/assets\/[^"]+\.js)"/.exec(html);
    expect(asset).not.toBeNull();
    expect((await fetch(`${url}${asset![1]}`)).status).toBe(200);
    const metrics = await fetch(`${mgmt}/metrics`);
    expect(metrics.status).toBe(200);
    // The base's node is the host's exact version (scripts/image-base.sh).
    expect(await metrics.text()).toContain(
      `stampede_process_nodejs_version_info{version="${process.version}"`,
    );
  });

  it('runs node as PID 1 under uid/gid 10001 on a read-only root', async () => {
    expect((await api.exec('id', '-u')).stdout.trim()).toBe('10001');
    expect((await api.exec('id', '-g')).stdout.trim()).toBe('10001');
    const status = (await api.exec('cat', '/proc/1/status')).stdout;
    expect(status).toMatch(/^Uid:\s+10001\s/m);
    expect((await api.exec('cat', '/proc/1/cmdline')).stdout.split('\0')[0]).toBe('node');
    for (const path of ['/probe', '/app/probe', '/app/dist/probe']) {
      const touched = await api.exec('touch', path);
      expect(touched.code).not.toBe(0);
      expect(touched.stderr).toMatch(/Read-only file system/);
    }
    // The emptyDir stand-in (podman's tmpfs on /tmp) is the one writable place.
    expect((await api.exec('touch', '/tmp/probe')).code).toBe(0);
  });

  it('keeps nothing of the build in its layers: no CA secret mount point, no npm cache', async () => {
    const rootfs = (await api.podman('image', 'mount', image.name)).stdout.trim();
    try {
      expect(existsSync(`${rootfs}/app/package.json`)).toBe(true);
      for (const leftover of ['/run/secrets', '/root/.npm', '/app/.npmrc', '/root/.npmrc'])
        expect([leftover, existsSync(`${rootfs}${leftover}`)]).toEqual([leftover, false]);
    } finally {
      await api.podman('image', 'unmount', image.name);
    }
  });

  it('holds no dev-only dependency in /app/node_modules', async () => {
    const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, p]) => path.startsWith('node_modules/') && p.dev === true)
      .map(([path]) => path.slice('node_modules/'.length))
      .filter((name) => !name.includes('/node_modules/'));
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'jest', 'eslint', 'vite', 'ts-jest']));
    const listing = await api.exec(
      'node',
      '-e',
      'const fs = require("fs"); process.stdout.write(JSON.stringify(process.argv.slice(1).filter((n) => fs.existsSync("/app/node_modules/" + n))))',
      ...devOnly,
    );
    expect(listing.code).toBe(0);
    expect(JSON.parse(listing.stdout)).toEqual([]);
    // Production dependencies are there (the check above would also pass on an empty node_modules).
    expect((await api.exec('test', '-f', '/app/node_modules/express/package.json')).code).toBe(0);
  });

  it('carries every Lua script and the built storefront in dist/', async () => {
    const lua = ['services', 'operator']
      .flatMap((top) =>
        readdirSync(`${ROOT}${top}`, { recursive: true, encoding: 'utf8' }).map((p) => `${top}/${p}`),
      )
      .filter((p) => p.endsWith('.lua'))
      .sort();
    expect(lua.length).toBeGreaterThan(0);
    const found = await api.exec('find', '/app/dist', '-name', '*.lua');
    const inImage = found.stdout
      .trim()
      .split('\n')
      .map((p) => p.replace('/app/dist/', ''))
      .sort();
    expect(inImage).toEqual(lua);
    expect((await api.exec('test', '-f', '/app/dist/web/index.html')).code).toBe(0);
  });

  // Last: it stops the container.
  it('drains on SIGTERM and exits 0 within the grace period', async () => {
    const started = Date.now();
    // Readiness flips first, while the listener still answers for SHUTDOWN_DELAY_SECONDS.
    const flipped = waitFor(
      async () => (await fetch(`${mgmt}/readyz`)).status === 503,
      'readiness to flip',
      GRACE_MS,
    );
    await api.podman('kill', '--signal', 'TERM', api.name);
    await flipped;
    await waitFor(async () => !(await api.state()).running, 'the container to exit', GRACE_MS + 30_000);
    const elapsed = Date.now() - started;
    expect((await api.state()).exitCode).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(DELAY_SECONDS * 1000);
    expect(elapsed).toBeLessThan(GRACE_MS);
    const logs = await api.logs();
    expect(logs).toMatch(/"signal":"SIGTERM"/);
    expect(logs).toMatch(/"msg":"stopped"/);
  }, 120_000);
});
