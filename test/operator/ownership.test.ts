// Two namespaces, one name (issue 12 point 2), against a real kube-apiserver, Redis and Postgres: an
// activity id belongs to the SeckillActivity that registered it first (namespace and uid in Postgres). A
// second resource of that name anywhere is Failed/NameConflict, changes nothing, and its deletion touches
// nothing of the owner's; `stampede apply` and the admin PUT refuse the owned activity unless forced.
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

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  oe = await operatorEnv('own');
  api = await startApi(oe.prefix, oe.pg.schema);
}, 120_000);
afterAll(async () => {
  await api?.stop();
  await oe?.stop();
});

const row = async (name: string) =>
  (
    await oe.pg.db.query<{ price: string; total_stock: number; paused: boolean; owner_namespace: string }>(
      'SELECT price, total_stock, paused, owner_namespace FROM seckill_activities WHERE name = $1',
      { bind: [name], type: QueryTypes.SELECT },
    )
  )[0];

const reconciled = async (c: Cluster, name: string) =>
  (await c.get(name))?.status?.conditions?.find((x) => x.type === 'Reconciled');

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

it('lets the first resource own a name: a namesake elsewhere is refused, changes nothing, deletes nothing', async () => {
  const prod = await oe.namespace('prod');
  const dev = await oe.namespace('dev');
  const op = await oe.operator(''); // every namespace, as the chart runs it
  const live = saleSpec({ startInMs: 1000, lengthMs: 600_000, preheatLead: '1s', stock: 5 });
  await prod.create('shared-sale', live);
  await prod.waitPhase('shared-sale', 'Live');
  const k = activityKeys(oe.prefix, 'shared-sale');
  const info = await oe.redis.hgetall(k.info);
  expect(info.price).toBe('9.90');

  const window = {
    start: new Date(Date.now() - 3_600_000).toISOString(),
    end: new Date(Date.now() - 60_000).toISOString(),
  };
  const namesake = {
    ...live,
    product: { sku: 'DEV-1', name: 'Dev copy', price: '0.01' },
    stock: 50,
    window,
    paused: true,
  };
  await dev.create('shared-sale', namesake);
  await waitFor(
    async () => (await reconciled(dev, 'shared-sale'))?.reason === 'NameConflict',
    'NameConflict',
  );
  expect(await dev.phase('shared-sale')).toBe('Failed');
  expect((await reconciled(dev, 'shared-sale'))?.status).toBe('False');
  await waitFor(
    async () => (await dev.events('shared-sale')).some((e) => e.startsWith('NameConflict')),
    'the Warning event',
  );
  // Nothing of the owner's changed: Redis info and stock, the Postgres row, the owner's status.
  expect(await oe.redis.hgetall(k.info)).toEqual(info);
  expect(await oe.redis.get(k.stock)).toBe('5');
  expect(await row('shared-sale')).toMatchObject({
    price: '9.90',
    total_stock: 5,
    paused: false,
    owner_namespace: prod.ns,
  });
  expect(await prod.phase('shared-sale')).toBe('Live');
  expect((await reconciled(prod, 'shared-sale'))?.reason).toBe('Reconciled');
  expect(await op.operator.registry.metrics()).toMatch(
    /stampede_activity_phase\{activity="shared-sale",phase="Live"[^}]*\} 1/,
  );

  // Its window is past, so its deletion is not blocked; it must not take the live sale's keys with it.
  await dev.remove('shared-sale');
  await waitFor(async () => (await dev.get('shared-sale')) === null, 'the namesake gone');
  expect(await oe.redis.exists(k.stock, k.info)).toBe(2);
  expect(await oe.redis.hgetall(k.info)).toEqual(info);
  expect(await row('shared-sale')).toMatchObject({ owner_namespace: prod.ns });

  // An activity a resource owns is refused by the admin PUT and stampede apply unless forced.
  const admin = await adminToken(api.url);
  const body = { ...live, stock: 7 };
  const put = await call(api.url, '/api/admin/activities/shared-sale', { method: 'PUT', body, token: admin });
  expect(put.status).toBe(409);
  expect(put.body.code).toBe('OWNED_BY_CLUSTER');
  expect(await oe.redis.get(k.stock)).toBe('5');
  const forced = await call(api.url, '/api/admin/activities/shared-sale?force=true', {
    method: 'PUT',
    body,
    token: admin,
  });
  expect(forced.status).toBe(200);
  expect(forced.body.stock).toMatchObject({ total: 7 });
  // The owner's next reconcile (every 300 ms while it runs) brings its own spec back.
  await waitFor(async () => (await oe.redis.get(k.stock)) === '5', 'the owner’s spec reconciled back');

  const file = join(mkdtempSync(join(tmpdir(), 'stampede-own-')), 'sale.yaml');
  const manifest = {
    apiVersion: 'stampede.dev/v1alpha1',
    kind: 'SeckillActivity',
    metadata: { name: 'shared-sale' },
  };
  writeFileSync(file, stringify({ ...manifest, spec: { ...live, stock: 8 } }));
  const refused = await stampede(['apply', '-f', file]);
  expect(refused.code).toBe(1);
  expect(refused.err).toMatch(/owned by the SeckillActivity/);
  expect(await oe.redis.get(k.stock)).toBe('5');
  const applied = await stampede(['apply', '-f', file, '--force']);
  expect(applied).toMatchObject({ code: 0 });
  expect(applied.out).toMatch(/shared-sale configured \(stock \d+\/8\)/);
  await waitFor(async () => (await oe.redis.get(k.stock)) === '5', 'the owner’s spec reconciled back');
  expect(await row('shared-sale')).toMatchObject({ owner_namespace: prod.ns });
  await op.stop();
}, 90_000);

it('hands the name over once the owner is deleted', async () => {
  const a = await oe.namespace('first');
  const b = await oe.namespace('second');
  await oe.operator('', { OPERATOR_LIVE_REFRESH_MS: '300' });
  await a.create('handover', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }));
  await a.waitPhase('handover', 'Scheduled');
  await b.create('handover', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000, stock: 4 }));
  await waitFor(async () => (await reconciled(b, 'handover'))?.reason === 'NameConflict', 'NameConflict');
  await a.remove('handover');
  await waitFor(async () => (await a.get('handover')) === null, 'the owner gone');
  // The refused resource looks again every 30 s; a spec change wakes it now.
  await b.patchSpec('handover', { stock: 6 });
  await waitFor(
    async () => (await b.get('handover'))?.status?.observedGeneration === 2,
    'the change reconciled',
  );
  expect(await b.phase('handover')).toBe('Scheduled');
  expect(await row('handover')).toMatchObject({ total_stock: 6, owner_namespace: b.ns });
}, 90_000);
