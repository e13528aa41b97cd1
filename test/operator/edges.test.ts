// The operator at its edges (issue 12), against a real kube-apiserver, Redis and Postgres: a sale announced
// a month ahead, a live sale deleted right after an operator that was down comes back, and an API server
// that is down (retried with growing delays, not every 200 ms).
import { createServer, Socket, type Server } from 'node:net';
import { activityKeys } from '../../services/core/redis/keys.js';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, reconcileCount, saleSpec, type OperatorEnv } from '../helpers/operator.js';

let oe: OperatorEnv;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  oe = await operatorEnv('edge');
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

it('sleeps through a sale announced a month ahead instead of reconciling in a tight loop', async () => {
  const cluster = await oe.namespace('far');
  const op = await oe.operator(cluster.ns);
  const before = await reconcileCount(op);
  // 30 days: a requeue delay above 2^31−1 ms, which Node fires at once.
  await cluster.create('next-month', saleSpec({ startInMs: 30 * 86_400_000, lengthMs: 3_600_000 }));
  await cluster.waitPhase('next-month', 'Scheduled');
  // The fixed window is the measurement: a busy loop shows as hundreds of reconciles (317 before the fix).
  await sleep(10_000);
  const reconciles = (await reconcileCount(op)) - before;
  expect(reconciles).toBeGreaterThanOrEqual(1);
  // Add the finalizer, write the status, and the update events each of those brings back.
  expect(reconciles).toBeLessThanOrEqual(5);
  expect((await cluster.get('next-month'))?.status?.nextTransitionTime).toBeDefined();
}, 60_000);

it('blocks deleting a sale whose window is open even when no operator wrote its status yet', async () => {
  const cluster = await oe.namespace('down');
  // Created while no operator runs (an earlier one had added the finalizer), with the status an operator
  // wrote before the window opened and went down: Scheduled.
  await cluster.objects.createNamespacedCustomObject({
    group: 'stampede.dev',
    version: 'v1alpha1',
    namespace: cluster.ns,
    plural: 'seckillactivities',
    body: {
      apiVersion: 'stampede.dev/v1alpha1',
      kind: 'SeckillActivity',
      metadata: { name: 'open-now', finalizers: ['stampede.dev/cleanup'] },
      spec: saleSpec({ startInMs: -60_000, lengthMs: 3_600_000 }),
    },
  });
  await cluster.writeStatus('open-now', { phase: 'Scheduled', observedGeneration: 1, conditions: [] });
  await cluster.remove('open-now');
  await oe.operator(cluster.ns);
  await waitFor(
    async () => (await cluster.events('open-now')).some((e) => e.startsWith('DeleteBlocked')),
    'DeleteBlocked',
  );
  expect((await cluster.get('open-now'))?.metadata.finalizers).toContain('stampede.dev/cleanup');
  await cluster.annotate('open-now', { 'stampede.dev/allow-delete-live': 'true' });
  await waitFor(async () => (await cluster.get('open-now')) === null, 'the object gone once annotated');
  expect(await oe.redis.exists(activityKeys(oe.prefix, 'open-now').stock)).toBe(0);
}, 60_000);

/** A TCP listener in front of the API server: `refuse` counts each connection and closes it at once. */
class Door {
  accepts = 0;
  mode: 'refuse' | 'pass' = 'refuse';
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async open(target: number): Promise<this> {
    this.server = createServer((client) => {
      if (this.mode === 'refuse') {
        this.accepts++;
        return void client.destroy();
      }
      const upstream = new Socket().connect(target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server?.close(r));
  }
}

it('retries an API server that is down with growing delays, and recovers when it is back', async () => {
  const cluster = await oe.namespace('door');
  const door = await new Door().open(oe.env.port);
  try {
    await oe.operator(cluster.ns, {}, { server: `https://127.0.0.1:${door.port}` });
    await sleep(10_000);
    // 200 ms doubling: about 6 attempts in 10 s; a back-off reset on every attempt makes ~50.
    expect(door.accepts).toBeGreaterThanOrEqual(3);
    expect(door.accepts).toBeLessThanOrEqual(9);
    door.mode = 'pass';
    await cluster.create('after-outage', saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }));
    await cluster.waitPhase('after-outage', 'Scheduled', 45_000);
  } finally {
    await door.close();
  }
}, 90_000);
