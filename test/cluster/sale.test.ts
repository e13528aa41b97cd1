// Sales against the rehearsal cluster: the chart installed by helm, the operator's floor acted on by the
// real HPA controller, Deployment and ReplicaSet controllers, scheduler and kwok, and given back through the
// HPA's own scale-down (which needs the metrics.k8s.io server). No timing is asserted, only order: the floor's
// pods Run before the sale opens and stay until end + cooldown.
import type { RehearsalCluster } from '../../rehearsal/cluster.js';
import { waitFor } from '../helpers/env.js';
import {
  applyActivity,
  hpa,
  hpaEvents,
  installStack,
  record,
  saleSpec,
  startCluster,
  waitForPods,
  type Sample,
  type Stack,
} from './rehearsal.js';

let cluster: RehearsalCluster;
const stacks: Stack[] = [];

beforeAll(async () => {
  cluster = await startCluster();
}, 180_000);
afterAll(async () => {
  for (const s of stacks) await s.stop().catch(() => undefined);
  await cluster?.stop();
});

const windowOf = (spec: Record<string, unknown>) => {
  const w = spec.window as { start: string; end: string };
  return { start: Date.parse(w.start), end: Date.parse(w.end) };
};

/** The first sample from which on `pred` held. */
const firstWhere = (samples: Sample[], pred: (s: Sample) => boolean) => samples.find(pred);

it('a timed sale: the floor Runs before the start and goes back to the baseline through the HPA', async () => {
  const s = await installStack(cluster, 'sale');
  stacks.push(s);
  await waitForPods(s, 'seckill', 2);
  expect(await s.operators.leader()).toMatch(new RegExp(`^${s.fullname}-operator-[01]$`));

  const spec = saleSpec({
    startInMs: 35_000,
    lengthMs: 5_000,
    stock: 5,
    preheatLead: '30s',
    scalingLead: '30s',
    cooldown: '3s',
    targets: [{ name: s.seckill, minReplicas: 6, maxReplicas: 12 }],
  });
  const { start, end } = windowOf(spec);
  const rec = record(s);
  await applyActivity(s, 'rehearsal-sale-' + s.namespace, spec);

  await waitForPods(s, 'seckill', 6, 60_000);
  expect(Date.now()).toBeLessThan(start);
  await waitForPods(s, 'seckill', 2, 120_000);
  const raised = firstWhere(rec.samples, (x) => x.minReplicas === 6);
  const running = firstWhere(rec.samples, (x) => x.ready === 6);
  expect(raised && running).toBeTruthy();
  const lowered = () => firstWhere(rec.samples, (x) => x.at > running!.at && x.minReplicas === 2);
  const backAfter = (from: Sample) =>
    firstWhere(rec.samples, (x) => x.at >= from.at && x.replicas === 2 && x.ready === 2);
  // The recorder samples on its own clock: wait until it has seen the way back too, then stop it.
  const [low, back] = await waitFor(
    () => {
      const l = lowered();
      const b = l && backAfter(l);
      return l && b ? ([l, b] as const) : null;
    },
    'the recorder to sample the floor lowered and the pods back at 2',
    60_000,
  );
  await rec.stop();
  // The figures docs/rehearsal.md reports.
  console.log(
    `rehearsal: minReplicas 2 → 6: 6 Running pods after ${running!.at - raised!.at} ms; ` +
      `6 → 2: 2 pods after ${back.at - low.at} ms`,
  );
  // Nothing below the floor until end + cooldown, nothing above it ever.
  const cooled = end + 3_000;
  expect(rec.samples.filter((x) => x.at >= running!.at && x.at < cooled && x.replicas < 6)).toEqual([]);
  expect(Math.max(...rec.samples.map((x) => x.replicas))).toBe(6);
  // The way down was the HPA's: metrics read (ScalingActive) and its own rescale to the restored floor.
  const h = await hpa(s);
  expect(h.spec?.minReplicas).toBe(2);
  expect(h.metadata?.annotations).toMatchObject({
    'stampede.dev/managed-by': 'stampede-operator',
    'stampede.dev/baseline-min-replicas': '2',
  });
  expect(h.status?.conditions?.find((c) => c.type === 'ScalingActive')?.status).toBe('True');
  expect(await hpaEvents(s)).toContainEqual(
    expect.stringMatching(/^SuccessfulRescale: New size: 2; reason: All metrics below target/),
  );
}, 240_000);

it('two overlapping sales in one namespace: the Deployment follows the max floor, then the baseline', async () => {
  const s = await installStack(cluster, 'overlap');
  stacks.push(s);
  await waitForPods(s, 'seckill', 2);
  // A's floor (4) from +5 s to +57 s, B's (7) from +30 s to +72 s: 4, then 7 (B over A), 7 after A's
  // floor is gone, then the baseline 2.
  const a = saleSpec({
    startInMs: 30_000,
    lengthMs: 25_000,
    scalingLead: '25s',
    cooldown: '2s',
    targets: [{ name: s.seckill, minReplicas: 4, maxReplicas: 10 }],
  });
  const b = saleSpec({
    startInMs: 55_000,
    lengthMs: 15_000,
    scalingLead: '25s',
    cooldown: '2s',
    targets: [{ name: s.seckill, minReplicas: 7, maxReplicas: 10 }],
  });
  const aEnd = windowOf(a).end + 2_000;
  const bEnd = windowOf(b).end + 2_000;
  const rec = record(s);
  await applyActivity(s, 'rehearsal-a-' + s.namespace, a);
  await applyActivity(s, 'rehearsal-b-' + s.namespace, b);

  await waitForPods(s, 'seckill', 4, 60_000);
  await waitForPods(s, 'seckill', 7, 90_000);
  await waitFor(() => Date.now() > aEnd + 2_000, 'A past its end + cooldown', 120_000);
  await waitForPods(s, 'seckill', 2, 120_000);
  await rec.stop();

  const seven = firstWhere(rec.samples, (x) => x.ready === 7) as Sample;
  const four = firstWhere(rec.samples, (x) => x.ready === 4) as Sample;
  expect(four.at).toBeLessThan(seven.at);
  expect(Math.max(...rec.samples.map((x) => x.replicas))).toBe(7);
  // B held the Deployment at 7 from its floor until its own end + cooldown, also after A's was gone.
  expect(rec.samples.filter((x) => x.at >= seven.at && x.at < bEnd && x.replicas < 7)).toEqual([]);
  expect(rec.samples.some((x) => x.at > aEnd + 1_000 && x.at < bEnd && x.ready === 7)).toBe(true);
  expect(await hpaEvents(s)).toContainEqual(expect.stringMatching(/^SuccessfulRescale: New size: 2;/));
}, 300_000);
