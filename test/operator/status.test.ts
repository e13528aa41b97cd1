// Status is replaced, not merged (issue 12 point 5), against a real kube-apiserver with an audit log: a
// field the new status omits disappears, and a reconcile that changes nothing writes nothing (the API
// server's audit log counts the operator's status writes over a quiet minute).
import type { AuditEvent } from '../../rehearsal/envtest.js';
import { waitFor } from '../helpers/env.js';
import {
  applyLooseCrd,
  INVALID_STOCK,
  operatorEnv,
  reconcileCount,
  saleSpec,
  type OperatorEnv,
} from '../helpers/operator.js';

let oe: OperatorEnv;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  oe = await operatorEnv('stat', { audit: true });
  await applyLooseCrd(oe.env);
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

it('drops nextTransitionTime after the last boundary', async () => {
  const cluster = await oe.namespace('last');
  const op = await oe.operator(cluster.ns);
  await cluster.create(
    'brief',
    saleSpec({ startInMs: 1500, lengthMs: 1500, preheatLead: '1s', scalingLead: '1s', cooldown: '1s' }),
  );
  await waitFor(async () => (await cluster.get('brief'))?.status?.nextTransitionTime, 'a next transition');
  await waitFor(
    async () => {
      const s = (await cluster.get('brief'))?.status;
      return s?.phase === 'Ended' && !('nextTransitionTime' in s);
    },
    'Ended without nextTransitionTime',
    20_000,
  );
  await op.stop();
}, 60_000);

it('drops the message once a spec that did not validate is fixed', async () => {
  const cluster = await oe.namespace('fixed');
  const op = await oe.operator(cluster.ns);
  await cluster.create('typo', {
    ...saleSpec({ startInMs: 3_600_000, lengthMs: 60_000 }),
    stock: INVALID_STOCK,
  });
  await cluster.waitPhase('typo', 'Failed');
  expect((await cluster.get('typo'))?.status?.message).toMatch(/does not validate/);
  await cluster.patchSpec('typo', { stock: 5 });
  await cluster.waitPhase('typo', 'Scheduled');
  const status = (await cluster.get('typo'))?.status;
  expect(status).not.toHaveProperty('message');
  expect(status?.conditions?.find((c) => c.type === 'Reconciled')?.reason).toBe('Reconciled');
  await op.stop();
}, 60_000);

it('writes no status over a quiet minute of a live sale although it reconciles every second', async () => {
  const cluster = await oe.namespace('quiet');
  const op = await oe.operator(cluster.ns, { OPERATOR_LIVE_REFRESH_MS: '1000' });
  await cluster.create('steady', saleSpec({ startInMs: 1000, lengthMs: 600_000, preheatLead: '1s' }));
  await cluster.waitPhase('steady', 'Live');
  await sleep(2_000); // let the write that made it Live reach the audit log
  const writes = (from: number, to: number) =>
    oe.env.auditEvents().filter((e: AuditEvent) => {
      const at = Date.parse(e.requestReceivedTimestamp);
      return (
        e.objectRef?.namespace === cluster.ns &&
        e.objectRef.name === 'steady' &&
        e.objectRef.subresource === 'status' &&
        ['patch', 'update'].includes(e.verb) &&
        at >= from &&
        at < to
      );
    }).length;
  expect(writes(0, Date.now())).toBeGreaterThan(0); // the audit log does see status writes
  const from = Date.now();
  const reconcilesBefore = await reconcileCount(op);
  await sleep(60_000);
  const to = Date.now();
  expect((await reconcileCount(op)) - reconcilesBefore).toBeGreaterThanOrEqual(20);
  await sleep(1_000);
  expect(writes(from, to)).toBe(0);
  expect(await cluster.phase('steady')).toBe('Live');
  await op.stop();
}, 120_000);
