// `npx stampede migrate` and `npx stampede apply -f` as a user runs them (the bin script, a child process),
// against real Postgres and Redis.
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { QueryTypes } from 'sequelize';
import { activityKeys } from '../../services/core/redis/keys.js';
import { Scripts } from '../../services/core/redis/scripts.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { DATABASE_URL, dropRedisPrefix, newRedis, randomPrefix } from '../helpers/env.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/stampede.js', import.meta.url).pathname;
const prefix = randomPrefix('cli');
let pgs: TestSchema;
let redis: Redis;
const dir = mkdtempSync(join(tmpdir(), 'stampede-cli-'));

async function stampede(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, STAMPEDE_PREFIX: prefix, DATABASE_SCHEMA: pgs.schema, ...env },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

function manifest(name: string, stock: number, extra = ''): string {
  const file = join(dir, `${name}-${stock}.yaml`);
  writeFileSync(
    file,
    `apiVersion: stampede.dev/v1alpha1
kind: SeckillActivity
metadata: {name: ${name}}
spec:
  product: {sku: SKU-${name}, name: "Phone", originalPrice: "7999.00", price: "4999.00"}
  stock: ${stock}
  window: {start: "2026-01-01T00:00:00Z", end: "2099-01-01T00:00:00Z"}
  paymentWindow: 15m
${extra}`,
  );
  return file;
}

beforeAll(async () => {
  pgs = await testSchema();
  redis = newRedis();
});
afterAll(async () => {
  await dropRedisPrefix(redis, prefix);
  await redis.quit();
  await pgs.drop();
});

it('migrate creates a missing database and is idempotent', async () => {
  const name = `stampede_cli_${process.pid}_${Date.now()}`;
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  try {
    const first = await stampede(['migrate'], { DATABASE_URL: url.toString(), DATABASE_SCHEMA: 'public' });
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(new RegExp(`created database ${name}`));
    expect(first.out).toMatch(/applied 0001-initial, 0002-payment-events/);
    const again = await stampede(['migrate'], { DATABASE_URL: url.toString(), DATABASE_SCHEMA: 'public' });
    expect(again.out).toMatch(/up to date/);
  } finally {
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  }
});

it('apply registers and preheats, re-applies idempotently, adds raised stock, refuses stock below sold', async () => {
  const name = `cli-sale-${Date.now()}`;
  expect((await stampede(['apply', '-f', manifest(name, 5)])).out).toMatch(
    `seckillactivity/${name} created (stock 5/5)`,
  );
  expect((await stampede(['apply', '-f', manifest(name, 5)])).out).toMatch(
    `seckillactivity/${name} configured (stock 5/5)`,
  );
  const k = activityKeys(prefix, name);
  await new Scripts(redis).purchase(k, 'u1', '0190a1b2-0000-7000-8000-000000000001', 1);
  await new Scripts(redis).purchase(k, 'u2', '0190a1b2-0000-7000-8000-000000000002', 1);
  expect((await stampede(['apply', '-f', manifest(name, 8)])).out).toMatch('(stock 6/8)');
  const refused = await stampede(['apply', '-f', manifest(name, 1)]);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/stock 1 is below the 2 units already sold/);
  expect(await redis.get(k.stock)).toBe('6');
  const [row] = await pgs.db.query<{ total_stock: number }>(
    'SELECT total_stock FROM seckill_activities WHERE name = $1',
    { bind: [name], type: QueryTypes.SELECT },
  );
  expect(row?.total_stock).toBe(8);
});

it('refuses a bad manifest with the path of what is wrong, and changes nothing', async () => {
  const name = `cli-bad-${Date.now()}`;
  const bad = await stampede(['apply', '-f', manifest(name, 5, '  maxPerUser: 0\n')]);
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/spec\.maxPerUser/);
  expect(await redis.exists(activityKeys(prefix, name).stock)).toBe(0);
  const usage = await stampede(['frobnicate']);
  expect(usage.code).toBe(2);
  expect(usage.err).toMatch(/usage: stampede/);
});
