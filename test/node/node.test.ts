// The chart on a real node (docs/real-node.md): a kubelet and containerd run the image's processes under the
// chart's own securityContext and probes. The tests build on each other in order (one install: the 2-core
// machine runs every pod of it): install, a sale through the pods, a rolling restart under a crowd, a crash.
import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { helm, kubectl } from '../../rehearsal/stack.js';
import { newRedis, waitFor } from '../helpers/env.js';
import { saleSpec } from '../helpers/operator.js';
import { expectInvariants, ordersOf } from '../helpers/orders.js';
import { buy, seckillUrls, shopper, type Answer } from './crowd.js';
import { exec, installOnNode, isReady, podsOf, startNodeStack, type NodeStack } from './stack.js';

let s: NodeStack;
let installed = false;

beforeAll(async () => {
  s = await startNodeStack();
  console.log(
    `real node: cluster with the node Ready in ${s.timings.cluster} ms (kubelet start → Ready ${s.node.readyMs} ms), image archived and imported in ${s.timings.image} ms`,
  );
}, 1_800_000);

afterAll(async () => {
  await s?.stop();
}, 120_000);

const COMPONENTS = ['seckill', 'api', 'orders', 'operator'];

test('helm install --wait: every pod Ready on the real node through its probes, migrated, uid and read-only / as the chart says', async () => {
  const t0 = Date.now();
  await installOnNode(s);
  console.log(`real node: helm install --wait took ${Date.now() - t0} ms`);
  installed = true;
  // helm's --wait saw every Deployment available; a probe may still miss once on a busy machine (the
  // kubelet then marks the pod unready until the next one passes), so Ready is waited for, not sampled.
  const serving = (p: k8s.V1Pod) =>
    !p.metadata?.labels?.['app.kubernetes.io/component']?.startsWith('migrate');
  const pods = await waitFor(
    async () => {
      const all = await podsOf(s);
      return all.filter(serving).every(isReady) ? all : null;
    },
    'every pod Ready through its probes',
    120_000,
  );
  for (const c of COMPONENTS)
    expect(
      pods.filter((p) => p.metadata?.labels?.['app.kubernetes.io/component'] === c).length,
    ).toBeGreaterThan(0);
  for (const p of pods.filter(serving)) {
    expect(p.spec?.nodeName).toBe(s.node.name);
    expect(isReady(p)).toBe(true);
    const c = p.spec!.containers[0]!;
    // Ready is the kubelet's verdict on these probes (no kwok here to say so).
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(p.status?.containerStatuses?.[0]?.imageID).toMatch(/^sha256:|@sha256:/);
  }
  // The hook Job is deleted once it succeeded; its Events and the migrated database remain.
  const events = await s.core.listNamespacedEvent({
    namespace: s.namespace,
    fieldSelector: `involvedObject.kind=Job,involvedObject.name=${s.fullname}-migrate`,
  });
  expect(events.items.map((e) => e.reason)).toContain('Completed');
  const tables = await s.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('orders', 'seckill_activities')`,
    { type: QueryTypes.SELECT },
  );
  expect(Number(tables[0]?.n)).toBe(2);

  const values = JSON.parse(
    await helm(s.cluster, ['get', 'values', '--all', '-o', 'json', '-n', s.namespace, s.release]),
  ) as {
    podSecurityContext: { runAsUser: number; runAsGroup: number };
  };
  const uid = values.podSecurityContext.runAsUser;
  for (const c of COMPONENTS) {
    const pod = pods.find((p) => p.metadata?.labels?.['app.kubernetes.io/component'] === c)!;
    const out = await exec(s, pod.metadata!.name!, [
      'sh',
      '-c',
      'id -u; id -g; touch /written 2>&1 || true; grep " / " /proc/mounts',
    ]);
    const [u, g, touch, root] = out.trim().split('\n');
    expect(Number(u)).toBe(uid);
    expect(Number(g)).toBe(values.podSecurityContext.runAsGroup);
    expect(touch).toMatch(/Read-only file system/);
    expect(root?.split(' ')[3]?.split(',')).toContain('ro');
  }
  console.log(`real node: pods run as uid ${uid} with a read-only /`);
}, 900_000);

interface Activity {
  status?: { phase?: string; conditions?: { type: string; status: string }[]; stock?: { total: number } };
}

/** `kubectl apply` of a live SeckillActivity; waits until the operator pod reports it Live and preheated. */
async function liveSale(name: string, stock: number): Promise<void> {
  const spec = saleSpec({ startInMs: 3000, lengthMs: 3_600_000, stock });
  const manifest = { apiVersion: 'stampede.dev/v1alpha1', kind: 'SeckillActivity', metadata: { name }, spec };
  await kubectl(s.cluster, ['apply', '-n', s.namespace, '-f', '-'], stringify(manifest));
  const objects = s.cluster.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  await waitFor(
    async () => {
      const o = (await objects.getNamespacedCustomObject({
        group: 'stampede.dev',
        version: 'v1alpha1',
        namespace: s.namespace,
        plural: 'seckillactivities',
        name,
      })) as Activity;
      return (
        o.status?.phase === 'Live' &&
        o.status.stock?.total === stock &&
        o.status.conditions?.some((c) => c.type === 'Preheated' && c.status === 'True')
      );
    },
    `${name} Live and Preheated (status by the operator pod)`,
    120_000,
  );
}

test('a sale through the pods: the operator pod preheats and reports, every 202 from the seckill pods is a row', async () => {
  expect(installed).toBe(true);
  const name = `node-sale-${Date.now().toString(36)}`;
  const stock = 30;
  await liveSale(name, stock);
  // The operator that did it is a pod of the release (its ServiceAccount token, the chart's RBAC): no
  // operator process runs beside this cluster.
  const coordination = s.cluster.kubeConfig().makeApiClient(k8s.CoordinationV1Api);
  const lease = await coordination.readNamespacedLease({
    name: `${s.fullname}-operator`,
    namespace: s.namespace,
  });
  const operators = (await podsOf(s, 'operator')).map((p) => p.metadata?.name);
  expect(operators).toContain(lease.spec?.holderIdentity);

  const urls = await seckillUrls(s);
  expect(urls.length).toBeGreaterThanOrEqual(2);
  const answers: Answer[] = await Promise.all(
    Array.from({ length: 45 }, async (_, i) => buy(urls[i % urls.length]!, name, await shopper(s))),
  );
  const accepted = answers.filter((a) => a.status === 202);
  expect(accepted.length).toBe(stock);
  expect(answers.filter((a) => a.status !== 202).map((a) => `${a.status} ${a.code}`)).toEqual(
    Array.from({ length: 45 - stock }, () => '409 SOLD_OUT'),
  );
  await waitFor(async () => (await ordersOf(s.db, name)).length === stock, `${stock} order rows`, 60_000);
  const redis = newRedis();
  try {
    const ids = new Set(accepted.map((a) => a.orderId!));
    await expectInvariants(s.db, redis, s.prefix, { name, total: stock }, ids);
  } finally {
    await redis.quit();
  }
}, 300_000);

/** Shoppers buying until stopped, each retrying a purchase that got no answer with its Idempotency-Key. */
function crowd(name: string, workers: number) {
  const answers: Answer[] = [];
  let unanswered = 0;
  let urls: string[] = [];
  let running = true;
  const refresh = (async () => {
    while (running) {
      urls = await seckillUrls(s).catch(() => urls);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const worker = async () => {
    while (running) {
      const who = await shopper(s);
      const key = randomUUID();
      for (let attempt = 0; ; attempt++) {
        const url = urls[Math.floor(Math.random() * urls.length)];
        const a = url ? await buy(url, name, who, key).catch(() => null) : null;
        if (a) {
          answers.push(a);
          break;
        }
        // No answer (a connection the draining pod closed, or no ready endpoint for a moment): a client
        // retries with the same key; twenty misses in a row would be an outage, and the test fails on it.
        if (attempt === 20) {
          unanswered++;
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const all = Promise.all([refresh, ...Array.from({ length: workers }, worker)]);
  return {
    answers,
    unanswered: () => unanswered,
    async stop() {
      running = false;
      await all;
    },
  };
}

test('kubectl rollout restart of seckill and orders under a crowd: only 202/409/503, nothing accepted lost', async () => {
  expect(installed).toBe(true);
  const name = `node-roll-${Date.now().toString(36)}`;
  const stock = 100_000;
  await liveSale(name, stock);
  const c = crowd(name, 4);
  try {
    await waitFor(() => c.answers.length >= 50, 'the crowd under way', 60_000);
    const before = new Map(
      (await podsOf(s)).map((p) => [p.metadata!.name!, p.metadata?.labels?.['app.kubernetes.io/component']]),
    );
    const deployments = ['seckill', 'orders'].map((d) => `deployment/${s.fullname}-${d}`);
    await kubectl(s.cluster, ['rollout', 'restart', '-n', s.namespace, ...deployments]);
    for (const d of deployments)
      await kubectl(s.cluster, ['rollout', 'status', '-n', s.namespace, d, '--timeout=10m']);
    // Every old seckill and orders pod is gone, replaced by Ready ones.
    await waitFor(
      async () => {
        const now = await podsOf(s);
        return ['seckill', 'orders'].every((component) => {
          const mine = now.filter((p) => p.metadata?.labels?.['app.kubernetes.io/component'] === component);
          return mine.length >= 2 && mine.every((p) => isReady(p) && !before.has(p.metadata!.name!));
        });
      },
      'old pods replaced',
      300_000,
    );
    const atRestart = c.answers.length;
    await waitFor(() => c.answers.length >= atRestart + 50, 'the crowd served by the new pods', 60_000);
  } finally {
    await c.stop();
  }
  const byStatus = new Map<number, number>();
  for (const a of c.answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  console.log(`real node: rollout restart under a crowd: ${JSON.stringify(Object.fromEntries(byStatus))}`);
  expect([...byStatus.keys()].filter((k) => ![202, 409, 503].includes(k))).toEqual([]);
  expect(c.unanswered()).toBe(0);
  const accepted = new Set(c.answers.filter((a) => a.status === 202).map((a) => a.orderId!));
  expect(accepted.size).toBeGreaterThan(100);
  await waitFor(async () => (await ordersOf(s.db, name)).length >= accepted.size, 'every 202 a row', 120_000);
  const redis = newRedis();
  try {
    await expectInvariants(s.db, redis, s.prefix, { name, total: stock }, accepted);
  } finally {
    await redis.quit();
  }
}, 900_000);

/** The host PID of a pod's container, from containerd (the pod status names the container id). */
async function containerPid(pod: k8s.V1Pod): Promise<number> {
  const id = pod.status?.containerStatuses?.[0]?.containerID?.replace('containerd://', '') ?? '';
  const tasks = await s.node.ctr(['tasks', 'ls']);
  const line = tasks.split('\n').find((l) => l.startsWith(`${id} `));
  if (!line) throw new Error(`no containerd task ${id} in:\n${tasks}`);
  return Number(line.split(/\s+/)[1]);
}

test('a seckill container killed on the host is restarted by the kubelet; retries with the same Idempotency-Key get the same order', async () => {
  expect(installed).toBe(true);
  const name = `node-crash-${Date.now().toString(36)}`;
  await liveSale(name, 10);
  const [pod] = (await podsOf(s, 'seckill')).filter(isReady);
  const url = `http://${pod!.status!.podIP}:${pod!.spec!.containers[0]!.ports![0]!.containerPort}`;
  const who = await shopper(s);
  const key = randomUUID();
  const first = await buy(url, name, who, key);
  expect(first.status).toBe(202);

  const restarts = pod!.status!.containerStatuses![0]!.restartCount;
  process.kill(await containerPid(pod!), 'SIGKILL');
  const again = await waitFor(
    async () => {
      const p = await s.core.readNamespacedPod({ name: pod!.metadata!.name!, namespace: s.namespace });
      return p.status!.containerStatuses![0]!.restartCount === restarts + 1 && isReady(p) ? p : null;
    },
    'the kubelet restarted the container and it is Ready',
    180_000,
  );
  expect(again.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode).toBe(137);
  const retried = await buy(url, name, who, key);
  expect(retried).toEqual(first);
  const other = (await seckillUrls(s)).find((u) => u !== url);
  expect(other).toBeDefined();
  expect(await buy(other!, name, who, key)).toEqual(first);
  await waitFor(async () => (await ordersOf(s.db, name)).length === 1, 'one order row', 60_000);
  expect((await ordersOf(s.db, name)).map((r) => r.id)).toEqual([first.orderId]);
}, 600_000);
