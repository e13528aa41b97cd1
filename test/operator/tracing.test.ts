// The built operator (`dist/operator/main.js`) with OTEL_EXPORTER_OTLP_ENDPOINT set, against a real
// kube-apiserver, Redis and Postgres, exporting to a receiver this test runs: each reconcile of a
// SeckillActivity is one trace whose root names the resource, with the Postgres and Redis work, the
// scaling and the status write as its children.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { EnvTest } from '../../rehearsal/envtest.js';
import { testSchema, type TestSchema } from '../helpers/db.js';
import { dropRedisPrefix, freePort, newRedis, randomPrefix, waitFor } from '../helpers/env.js';
import { Cluster, saleSpec } from '../helpers/operator.js';
import { attr, otlpReceiver, type OtlpSpan } from '../helpers/otlp.js';
import type { Redis } from 'ioredis';

const OPERATOR = join(new URL('../../', import.meta.url).pathname, 'dist/operator/main.js');
const prefix = randomPrefix('optrace');
let env: EnvTest;
let pg: TestSchema;
let redis: Redis;
let r: Awaited<ReturnType<typeof otlpReceiver>>;
let operator: ChildProcess | undefined;
let exited: Promise<unknown> = Promise.resolve();

beforeAll(async () => {
  env = await EnvTest.start();
  await env.apply(new URL('../../k8s/crd/seckillactivities.yaml', import.meta.url).pathname);
  pg = await testSchema();
  redis = newRedis();
  r = await otlpReceiver();
}, 120_000);

afterAll(async () => {
  if (operator && operator.exitCode === null) operator.kill('SIGTERM');
  await exited;
  await env?.stop();
  r?.server.close();
  if (redis) {
    await dropRedisPrefix(redis, prefix);
    await redis.quit();
  }
  await pg?.drop();
}, 60_000);

it('exports each reconcile as a trace with its store, scaling and status calls as children', async () => {
  const cluster = new Cluster(env, `optrace-${Date.now().toString(36)}`);
  await cluster.namespace();
  const port = await freePort();
  operator = spawn(process.execPath, [OPERATOR], {
    env: {
      ...process.env,
      KUBECONFIG: env.kubeConfigFile(),
      PORT: String(port),
      LEADER_ELECTION: 'false',
      WATCH_NAMESPACE: cluster.ns,
      STAMPEDE_PREFIX: prefix,
      DATABASE_SCHEMA: pg.schema,
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  exited = new Promise((done) => operator?.once('exit', done));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 'operator ready', 30_000);

  // Opens at once: the pass that makes it Live registers, preheats, observes the stock and writes status.
  await cluster.create('traced', saleSpec({ startInMs: 0, lengthMs: 600_000, stock: 3 }));
  await cluster.waitPhase('traced', 'Live', 30_000);
  const childrenOf = (root: OtlpSpan) =>
    new Set(
      r.spans.filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId).map((s) => s.name),
    );
  const want = [
    'postgres register, redis preheat',
    'redis observe stock',
    'kubernetes apply scaling',
    'kubernetes replace status',
  ];
  const root = await waitFor(
    () =>
      r.spans.find((s) => {
        if (s.name !== 'reconcile SeckillActivity' || attr(s, 'stampede.activity') !== 'traced') return false;
        const names = childrenOf(s);
        return want.every((n) => names.has(n));
      }),
    'a reconcile trace with every child',
    30_000,
  );
  expect(root).toMatchObject({ service: 'stampede-operator', parentSpanId: '' });
  expect(attr(root, 'k8s.namespace.name')).toBe(cluster.ns);
}, 120_000);
