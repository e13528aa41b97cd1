// Leader election as client-go does it (issue 12 point 3), against a real kube-apiserver: a standby whose
// clock runs 12 s ahead does not take a live leader's Lease; a leader whose API server stalls its renewals
// (a TCP proxy) stops leading before the standby takes over, so two never lead at once; and a leader rides
// out renewals that fail for less than the renew deadline.
import { FaultProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/env.js';
import { operatorEnv, type Cluster, type OperatorEnv, type RunningOperator } from '../helpers/operator.js';

let oe: OperatorEnv;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  oe = await operatorEnv('lease');
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

const elected = (
  cluster: Cluster,
  id: string,
  lease: number,
  o: { now?: () => number; server?: string } = {},
  extra: Record<string, string> = {},
) =>
  oe.operator(
    cluster.ns,
    {
      LEADER_ELECTION: 'true',
      LEASE_NAMESPACE: cluster.ns,
      LEASE_DURATION_SECONDS: String(lease),
      POD_NAME: id,
      ...extra,
    },
    o,
  );

const holder = async (cluster: Cluster) =>
  (await cluster.coordination.readNamespacedLease({ namespace: cluster.ns, name: 'stampede-operator' })).spec
    ?.holderIdentity;

/** Samples who leads every 20 ms until `until` holds; returns the samples. */
async function watchLeaders(ops: RunningOperator[], until: () => Promise<boolean>, timeoutMs: number) {
  const samples: boolean[][] = [];
  const deadline = Date.now() + timeoutMs;
  while (!(await until())) {
    samples.push(ops.map((o) => o.operator.isLeader()));
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
  samples.push(ops.map((o) => o.operator.isLeader()));
  return samples;
}

it('keeps a live leader’s lease from a standby whose clock runs 12 s ahead', async () => {
  const cluster = await oe.namespace('skew');
  const a = await elected(cluster, 'op-a', 3);
  await waitFor(() => a.operator.isLeader(), 'op-a leading');
  const b = await elected(cluster, 'op-b', 3, { now: () => Date.now() + 12_000 });
  // Over more than three lease durations the standby must never lead and the lease never move.
  const until = Date.now() + 10_000;
  const samples = await watchLeaders([a, b], async () => Date.now() > until, 20_000);
  expect(samples.filter(([, bl]) => bl)).toEqual([]);
  expect(samples.every(([al]) => al)).toBe(true);
  expect(await holder(cluster)).toBe('op-a');
  // It does take over once the leader is gone (the leader releases the lease when it stops).
  await a.stop();
  await waitFor(() => b.operator.isLeader(), 'op-b leading', 15_000);
  expect(await holder(cluster)).toBe('op-b');
  await b.stop();
}, 60_000);

it('makes a leader whose renewals stall stop leading before the standby takes over', async () => {
  const cluster = await oe.namespace('stall');
  const proxy = await new FaultProxy('127.0.0.1', oe.env.port).start();
  try {
    const a = await elected(cluster, 'op-a', 3, { server: `https://127.0.0.1:${proxy.port}` });
    await waitFor(() => a.operator.isLeader(), 'op-a leading');
    const b = await elected(cluster, 'op-b', 3);
    await sleep(1_000); // the standby has seen the lease renewed
    expect(b.operator.isLeader()).toBe(false);
    proxy.stall();
    const samples = await watchLeaders([a, b], async () => b.operator.isLeader(), 20_000);
    expect(samples.filter(([al, bl]) => al && bl)).toEqual([]);
    expect(a.operator.isLeader()).toBe(false);
    expect(await holder(cluster)).toBe('op-b');
    await b.stop();
  } finally {
    proxy.heal();
    await proxy.stop();
  }
}, 60_000);

it('rides out renewals that fail for less than the renew deadline', async () => {
  const cluster = await oe.namespace('blip');
  const proxy = await new FaultProxy('127.0.0.1', oe.env.port).start();
  try {
    // Lease 10 s, renew every 0.5 s, give up after 7 s without a successful renew.
    const a = await elected(
      cluster,
      'op-a',
      10,
      { server: `https://127.0.0.1:${proxy.port}` },
      {
        LEASE_RENEW_DEADLINE_MS: '7000',
        LEASE_RETRY_PERIOD_MS: '500',
      },
    );
    await waitFor(() => a.operator.isLeader(), 'op-a leading');
    // Every renew in the next 4 s fails at once (longer than a third of the lease, so a renew every
    // lease/3 fails too), and the next one succeeds well within the deadline.
    await proxy.cut();
    const until = Date.now() + 4_000;
    const during = await watchLeaders([a], async () => Date.now() > until, 10_000);
    proxy.heal();
    const renewedBy = Date.now() + 2_000;
    const after = await watchLeaders([a], async () => Date.now() > renewedBy, 10_000);
    expect([...during, ...after].every(([al]) => al)).toBe(true);
    expect(await holder(cluster)).toBe('op-a');
    await a.stop();
  } finally {
    await proxy.stop();
  }
}, 60_000);
