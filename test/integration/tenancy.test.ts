// Tenants of one cluster (issue 20 points 1 and 4), against a real kube-apiserver, Postgres and Redis: a
// SeckillActivity adopts an activity the admin made (admin PUT, `stampede apply`) only when the admin marked
// it adoptable; otherwise it is Failed/NameConflict and nothing of the admin's sale changes, not even when
// the namesake is deleted. Products belong to their owner: a tenant naming another owner's SKU gets a
// product of its own, and the other's name and original price stay as they were.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { QueryTypes } from 'sequelize';
import { stringify } from 'yaml';
import { activityKeys } from '../../services/core/redis/keys.js';
import { adminToken, startApi, type RunningApi } from '../helpers/api.js';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, saleSpec, type Cluster, type OperatorEnv } from '../helpers/operator.js';
import { call } from '../helpers/seckill.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/stampede.js', import.meta.url).pathname;
const MAIN = new URL('../../dist/services/cli/main.js', import.meta.url).pathname;
let oe: OperatorEnv;
let api: RunningApi;
let admin: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  oe = await operatorEnv('tenant');
  api = await startApi(oe.prefix, oe.pg.schema);
  admin = await adminToken(api.url);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await oe?.stop();
});

interface Row {
  price: string;
  max_per_user: number;
  total_stock: number;
  owner_namespace: string | null;
  sku: string;
  product: string;
  original_price: string | null;
}
const row = async (name: string): Promise<Row | undefined> =>
  (
    await oe.pg.db.query<Row>(
      `SELECT a.price, a.max_per_user, a.total_stock, a.owner_namespace, p.sku, p.name AS product, p.original_price
       FROM seckill_activities a JOIN products p ON p.id = a.product_id WHERE a.name = $1`,
      { bind: [name], type: QueryTypes.SELECT },
    )
  )[0];

const reconciled = async (c: Cluster, name: string) =>
  (await c.get(name))?.status?.conditions?.find((x) => x.type === 'Reconciled');

const put = (name: string, body: unknown, query = '') =>
  call(api.url, `/api/admin/activities/${name}${query}`, { method: 'PUT', body, token: admin });

async function stampede(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], {
      env: { ...process.env, STAMPEDE_PREFIX: oe.prefix, DATABASE_SCHEMA: oe.pg.schema },
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

/** The admin's sale: live now, 4999.00 at most one per buyer. */
const adminSale = (sku: string) => ({
  ...saleSpec({ startInMs: -1000, lengthMs: 600_000, stock: 10 }),
  product: { sku, name: 'Phone 17', originalPrice: '7999.00', price: '4999.00' },
  maxPerUser: 1,
});
/** What a tenant wants the same id to be. */
const takeover = (sku: string) => ({
  ...saleSpec({ startInMs: -1000, lengthMs: 600_000, stock: 500 }),
  product: { sku, name: 'Phone 17: pay at evil.example', originalPrice: '0.02', price: '0.01' },
  maxPerUser: 1000,
});

it('refuses a takeover of an activity the admin made and did not mark adoptable', async () => {
  const tenant = await oe.namespace('takeover');
  await oe.operator('');
  const name = 'admin-sale';
  expect((await put(name, adminSale('ADM-1'))).status).toBe(201);
  const k = activityKeys(oe.prefix, name);
  const info = await oe.redis.hgetall(k.info);
  const before = await row(name);
  expect(before).toMatchObject({ price: '4999.00', max_per_user: 1, owner_namespace: null });

  await tenant.create(name, takeover('ADM-1'));
  await waitFor(async () => (await reconciled(tenant, name))?.reason === 'NameConflict', 'NameConflict');
  expect(await tenant.phase(name)).toBe('Failed');
  await waitFor(
    async () => (await tenant.events(name)).some((e) => /^NameConflict: .*adoptable/.test(e)),
    'the Warning event naming adoptable',
  );
  expect(await row(name)).toEqual(before);
  expect(await oe.redis.hgetall(k.info)).toEqual(info);
  expect(await oe.redis.get(k.stock)).toBe('10');

  // The admin keeps control of its own sale (it got 409 OWNED_BY_CLUSTER after a takeover).
  const again = await put(name, { ...adminSale('ADM-1'), stock: 12 });
  expect(again.status).toBe(200);
  expect(await oe.redis.get(k.stock)).toBe('12');

  // Deleting the refused namesake (its window is live: annotated) takes nothing of the admin's with it.
  await tenant.annotate(name, { 'stampede.dev/allow-delete-live': 'true' });
  await tenant.remove(name);
  await waitFor(async () => (await tenant.get(name)) === null, 'the namesake gone');
  expect(await oe.redis.exists(k.stock, k.info)).toBe(2);
  expect(await row(name)).toMatchObject({ price: '4999.00', total_stock: 12, owner_namespace: null });
}, 90_000);

it('lets a SeckillActivity adopt only what the admin marked adoptable (admin PUT and stampede apply)', async () => {
  const tenant = await oe.namespace('adopt');
  await oe.operator('');
  expectProblem(await put('bad-flag', adminSale('ADM-2'), '?adoptable=yes'), 400);
  expect(await row('bad-flag')).toBeUndefined();

  // Marked adoptable through the admin API: the resource takes it over.
  expect((await put('handed-over', adminSale('ADM-2'), '?adoptable=true')).status).toBe(201);
  await tenant.create('handed-over', { ...takeover('T-2'), maxPerUser: 2 });
  await waitFor(
    async () => (await row('handed-over'))?.owner_namespace === tenant.ns,
    'the resource owning the activity',
  );
  await waitFor(async () => (await reconciled(tenant, 'handed-over'))?.reason === 'Reconciled', 'Reconciled');
  expect(await row('handed-over')).toMatchObject({ max_per_user: 2, sku: 'T-2' });

  // `stampede apply` without --adoptable: refused; with it: adopted.
  const dir = mkdtempSync(join(tmpdir(), 'stampede-tenancy-'));
  const manifest = (name: string) => {
    const file = join(dir, `${name}.yaml`);
    const meta = { apiVersion: 'stampede.dev/v1alpha1', kind: 'SeckillActivity', metadata: { name } };
    writeFileSync(file, stringify({ ...meta, spec: adminSale('ADM-3') }));
    return file;
  };
  expect(await stampede(['apply', '-f', manifest('cli-kept')])).toMatchObject({ code: 0 });
  expect(await stampede(['apply', '-f', manifest('cli-given'), '--adoptable'])).toMatchObject({ code: 0 });
  await tenant.create('cli-kept', takeover('T-3'));
  await tenant.create('cli-given', takeover('T-3'));
  await waitFor(async () => (await reconciled(tenant, 'cli-kept'))?.reason === 'NameConflict', 'refused');
  await waitFor(async () => (await row('cli-given'))?.owner_namespace === tenant.ns, 'adopted');
  expect(await row('cli-kept')).toMatchObject({ price: '4999.00', max_per_user: 1, owner_namespace: null });
  expect(await row('cli-given')).toMatchObject({ price: '0.01', max_per_user: 1000 });
}, 90_000);

it('keeps products with their owner: a tenant naming another owner’s SKU rewrites nothing of it', async () => {
  const a = await oe.namespace('shop-a');
  const b = await oe.namespace('shop-b');
  await oe.operator('');
  expect((await put('admin-phone', adminSale('PHONE-17'))).status).toBe(201);
  const shop = (sku: string, name: string, originalPrice: string) => ({
    ...saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }),
    product: { sku, name, originalPrice, price: '1.00' },
  });
  await a.create('shop-a-phone', shop('PHONE-17', 'Shop A phone', '10.00'));
  await a.waitPhase('shop-a-phone', 'Scheduled');
  await b.create('shop-b-phone', shop('PHONE-17', 'Visit evil.example', '0.01'));
  await b.waitPhase('shop-b-phone', 'Scheduled');

  const shown = async (name: string) => (await call(api.url, `/api/activities/${name}`)).body;
  expect(await shown('admin-phone')).toMatchObject({
    product: { sku: 'PHONE-17', name: 'Phone 17', originalPrice: '7999.00' },
  });
  expect(await row('admin-phone')).toMatchObject({ product: 'Phone 17', original_price: '7999.00' });
  expect(await row('shop-a-phone')).toMatchObject({ product: 'Shop A phone', original_price: '10.00' });
  expect(await row('shop-b-phone')).toMatchObject({ product: 'Visit evil.example' });

  // The owner still changes its own product, on every sale of it.
  await a.patchSpec('shop-a-phone', { product: { ...shop('PHONE-17', 'Shop A phone v2', '11.00').product } });
  await waitFor(async () => (await row('shop-a-phone'))?.product === 'Shop A phone v2', 'A’s rename');
  expect(await row('admin-phone')).toMatchObject({ product: 'Phone 17', original_price: '7999.00' });
  expect(await row('shop-b-phone')).toMatchObject({ product: 'Visit evil.example' });
  // The admin's PUT of the same SKU renames only the admin's product.
  const renamed = adminSale('PHONE-17');
  renamed.product.name = 'Phone 17 (2)';
  expect((await put('admin-phone-2', renamed)).status).toBe(201);
  expect(await row('admin-phone')).toMatchObject({ product: 'Phone 17 (2)' });
  expect(await row('shop-a-phone')).toMatchObject({ product: 'Shop A phone v2' });
}, 90_000);

function expectProblem(r: { status: number; body: Record<string, unknown> }, status: number): void {
  expect(r.status).toBe(status);
  expect(r.body.code).toBe('VALIDATION_FAILED');
}
