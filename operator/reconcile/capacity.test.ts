import type * as k8s from '@kubernetes/client-node';
import { activitySpecSchema, type ActivitySpec } from '../../services/core/activity/spec.js';
import {
  capacityObserved,
  desiredPlaceholder,
  IDLE_COMMAND,
  inCapacityWindow,
  placeholdersFor,
  placeholderUpToDate,
  type TargetCapacity,
} from './capacity.js';
import { computeStatus, type Observed } from './status.js';

const sale = (start: string, minReplicas: number, over: Record<string, unknown> = {}): ActivitySpec =>
  activitySpecSchema.parse({
    product: { sku: 'S', name: 'N', price: '1.00' },
    stock: 1,
    window: { start, end: new Date(Date.parse(start) + 30 * 60_000).toISOString() },
    scaling: {
      leadTime: '5m',
      capacityLead: '15m',
      targets: [{ name: 'web', minReplicas, maxReplicas: 40 }],
    },
    ...over,
  });
const T = (iso: string) => Date.parse(iso);

describe('placeholdersFor (pure)', () => {
  const a = sale('2026-11-11T00:00:00Z', 10);
  const b = sale('2026-11-11T00:05:00Z', 14);

  const two = { replicas: 2, onNodes: 2 };
  it.each([
    ['before start − capacityLead: none', '2026-11-10T23:44:59Z', 0],
    ['from start − capacityLead: floor − current', '2026-11-10T23:45:00Z', 8],
    ['two overlapping sales: the larger need', '2026-11-10T23:52:00Z', 12],
    ['the first floor raised: the other one still needs room', '2026-11-10T23:55:00Z', 12],
    ['from start − scaling.leadTime: the floor pods not on a node yet', '2026-11-11T00:00:00Z', 12],
    ['from the last start: none', '2026-11-11T00:05:00Z', 0],
  ])('%s', (_what, now, want) => {
    expect(placeholdersFor('web', [a, b], T(now), two)).toBe(want);
  });

  it('holds the room of the raised floor until its pods are bound to nodes', () => {
    const now = T('2026-11-10T23:56:00Z'); // a's floor stage: the HPA asks for 10 already
    expect(placeholdersFor('web', [a], now, { replicas: 10, onNodes: 2 })).toBe(8);
    expect(placeholdersFor('web', [a], now, { replicas: 10, onNodes: 7 })).toBe(3);
    expect(placeholdersFor('web', [a], now, { replicas: 10, onNodes: 10 })).toBe(0);
  });

  it('wants none once the target runs the floor, none for a paused sale or another target', () => {
    const now = T('2026-11-10T23:50:00Z');
    expect(placeholdersFor('web', [a], now, { replicas: 10, onNodes: 10 })).toBe(0);
    expect(placeholdersFor('web', [a], now, { replicas: 12, onNodes: 12 })).toBe(0);
    const paused = sale('2026-11-11T00:00:00Z', 10, { paused: true });
    expect(placeholdersFor('web', [paused], now, two)).toBe(0);
    expect(placeholdersFor('api', [a], now, two)).toBe(0);
    expect(inCapacityWindow('web', [paused], now)).toBe(false);
    expect(inCapacityWindow('web', [a], now)).toBe(true);
    expect(inCapacityWindow('web', [a], T('2026-11-11T00:00:00Z'))).toBe(false);
  });

  it('caps the floor at OPERATOR_MAX_REPLICAS', () => {
    expect(placeholdersFor('web', [a], T('2026-11-10T23:50:00Z'), two, 6)).toBe(4);
  });
});

const target: k8s.V1Deployment = {
  metadata: {
    name: 'seckill',
    namespace: 'shop',
    labels: { app: 'seckill', 'stampede.dev/scalable': 'true' },
  },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'seckill' } },
    template: {
      metadata: { labels: { app: 'seckill' } },
      spec: {
        nodeSelector: { pool: 'sale' },
        tolerations: [{ key: 'sale', operator: 'Exists', effect: 'NoSchedule' }],
        affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
        containers: [
          {
            name: 'seckill',
            image: 'ghcr.io/stampede/stampede:1.2.3',
            resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '512Mi' } },
            env: [{ name: 'SECRET', value: 'not copied' }],
          },
        ],
      },
    },
  },
};

describe('desiredPlaceholder (pure)', () => {
  const d = desiredPlaceholder(target, 5);
  const pod = d.spec?.template.spec;

  it('is <target>-placeholder in the target namespace, labelled, with the replicas asked', () => {
    expect(d.metadata).toMatchObject({
      name: 'seckill-placeholder',
      namespace: 'shop',
      labels: {
        'app.kubernetes.io/managed-by': 'stampede-operator',
        'stampede.dev/placeholder-for': 'seckill',
      },
    });
    expect(d.spec?.replicas).toBe(5);
    // No label of the target: no Service sends a shopper to a placeholder, no ReplicaSet adopts one.
    expect(d.spec?.selector.matchLabels).toEqual({ 'stampede.dev/placeholder-for': 'seckill' });
    expect(d.spec?.template.metadata?.labels).not.toHaveProperty('app');
  });

  it('runs the target image idle at the placeholder priority, with its requests and placement', () => {
    expect(pod).toMatchObject({
      priorityClassName: 'stampede-placeholder',
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      nodeSelector: { pool: 'sale' },
      tolerations: [{ key: 'sale', operator: 'Exists', effect: 'NoSchedule' }],
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    });
    const [c] = pod?.containers ?? [];
    expect(c).toMatchObject({
      image: 'ghcr.io/stampede/stampede:1.2.3',
      command: IDLE_COMMAND,
      resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '512Mi' } },
      securityContext: {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    });
    expect(c?.env).toBeUndefined();
    expect(pod?.containers).toHaveLength(1);
  });

  it('is up to date only with the same replicas and template', () => {
    expect(placeholderUpToDate(desiredPlaceholder(target, 5), d)).toBe(true);
    expect(placeholderUpToDate(desiredPlaceholder(target, 4), d)).toBe(false);
    const bigger = structuredClone(target);
    bigger.spec!.template.spec!.containers[0]!.resources!.requests = { cpu: '1', memory: '256Mi' };
    expect(placeholderUpToDate(desiredPlaceholder(bigger, 5), d)).toBe(false);
  });
});

describe('CapacityReady (pure)', () => {
  const a = sale('2026-11-11T00:00:00Z', 10);
  const seen = (over: Partial<TargetCapacity>) =>
    new Map([['web', { placeholders: 8, running: 0, pending: 8, readyReplicas: 2, ...over }]]);
  const obs = (now: string, s: Map<string, TargetCapacity>, over: Partial<Observed> = {}): Observed => ({
    now: T(now),
    generation: 1,
    preheat: { ok: true },
    scaling: { ok: true, raised: false },
    stock: null,
    room: null,
    capacity: capacityObserved(a, T(now), s),
    error: null,
    ...over,
  });
  const cond = (o: Observed) => {
    const st = computeStatus(a, o);
    return { ...st.conditions.find((c) => c.type === 'CapacityReady'), capacity: st.capacity };
  };

  it.each([
    ['before the window', '2026-11-10T23:00:00Z', {}, {}, 'False', 'Waiting', undefined],
    [
      'placeholders Pending',
      '2026-11-10T23:46:00Z',
      {},
      { preheat: null },
      'False',
      'PlaceholdersPending',
      { wanted: 8, ready: 0 },
    ],
    [
      'placeholders Running, not preheated',
      '2026-11-10T23:46:00Z',
      { running: 8, pending: 0 },
      { preheat: null },
      'False',
      'NotPreheated',
      { wanted: 8, ready: 8 },
    ],
    [
      'placeholders Running, preheated',
      '2026-11-10T23:51:00Z',
      { running: 8, pending: 0 },
      {},
      'True',
      'Ready',
      { wanted: 8, ready: 8 },
    ],
    [
      'floor pods not Ready',
      '2026-11-10T23:56:00Z',
      { placeholders: 0, readyReplicas: 7 },
      {},
      'False',
      'FloorPodsNotReady',
      { wanted: 10, ready: 7 },
    ],
    [
      'floor pods Ready',
      '2026-11-10T23:56:00Z',
      { placeholders: 0, readyReplicas: 12 },
      {},
      'True',
      'Ready',
      { wanted: 10, ready: 10 },
    ],
    ['after the end', '2026-11-11T00:31:00Z', {}, {}, 'False', 'Ended', undefined],
  ])('%s', (_what, now, s, over, status, reason, capacity) => {
    expect(cond(obs(now, seen(s), over))).toMatchObject({ status, reason, capacity });
  });

  it('counts no target it did not see (missing or not scalable)', () => {
    expect(capacityObserved(a, T('2026-11-10T23:46:00Z'), new Map())).toEqual({
      stage: 'placeholders',
      wanted: 0,
      ready: 0,
    });
  });
});
