import type * as k8s from '@kubernetes/client-node';
import { desiredPlaceholder, TEMPLATE_HASH } from './capacity.js';
import {
  bufferProvisioned,
  bufferUpToDate,
  desiredBuffer,
  desiredPodTemplate,
  templateUpToDate,
  type CapacityBuffer,
} from './capacity-buffer.js';

const target = (image = 'ghcr.io/stampede/stampede:1.2.3'): k8s.V1Deployment => ({
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
        containers: [{ name: 'seckill', image, resources: { requests: { cpu: '500m', memory: '256Mi' } } }],
      },
    },
  },
});

const LABELS = {
  'app.kubernetes.io/managed-by': 'stampede-operator',
  'stampede.dev/placeholder-for': 'seckill',
};

describe('desiredPodTemplate (pure)', () => {
  it('holds exactly the placeholder Deployment’s pod template, named, labelled and digested like it', () => {
    const d = desiredPlaceholder(target(), 3);
    const t = desiredPodTemplate(target());
    expect(t).toEqual({
      apiVersion: 'v1',
      kind: 'PodTemplate',
      metadata: {
        name: 'seckill-placeholder',
        namespace: 'shop',
        labels: LABELS,
        annotations: { [TEMPLATE_HASH]: d.metadata?.annotations?.[TEMPLATE_HASH] },
      },
      template: d.spec?.template,
    });
    expect(t.template?.spec?.priorityClassName).toBe('stampede-placeholder');
    expect(t.template?.spec?.nodeSelector).toEqual({ pool: 'sale' });
  });
});

describe('desiredBuffer (pure)', () => {
  it('asks for `replicas` chunks shaped like the PodTemplate of the same name', () => {
    const b = desiredBuffer(target(), 5);
    expect(b).toEqual({
      apiVersion: 'autoscaling.x-k8s.io/v1beta1',
      kind: 'CapacityBuffer',
      metadata: desiredPodTemplate(target()).metadata,
      spec: {
        podTemplateRef: { name: 'seckill-placeholder' },
        replicas: 5,
        provisioningStrategy: 'buffer.x-k8s.io/active-capacity',
      },
    });
  });
});

describe('templateUpToDate, bufferUpToDate (pure)', () => {
  // As the API server stores them: with fields of its own.
  const stored = <T extends { metadata?: k8s.V1ObjectMeta }>(o: T): T => ({
    ...structuredClone(o),
    metadata: { ...o.metadata, uid: 'u', resourceVersion: '7', generation: 2 },
  });

  it('an unchanged target writes nothing; a new image rewrites the template and the buffer', () => {
    const t = desiredPodTemplate(target());
    const b = desiredBuffer(target(), 5);
    expect(templateUpToDate(stored(t), desiredPodTemplate(target()))).toBe(true);
    expect(bufferUpToDate(stored(b), desiredBuffer(target(), 5))).toBe(true);
    expect(templateUpToDate(stored(t), desiredPodTemplate(target('other:2')))).toBe(false);
    expect(bufferUpToDate(stored(b), desiredBuffer(target('other:2'), 5))).toBe(false);
  });

  it('a new count rewrites the buffer only', () => {
    expect(bufferUpToDate(stored(desiredBuffer(target(), 5)), desiredBuffer(target(), 6))).toBe(false);
  });
});

describe('bufferProvisioned (pure)', () => {
  const template: k8s.V1PodTemplate = { metadata: { name: 'seckill-placeholder', generation: 2 } };
  const provisioning = (status: string, observedGeneration = 3) => ({
    type: 'Provisioning',
    status,
    reason: status === 'True' ? 'FitsExistingCapacity' : 'RequiresNewCapacity',
    observedGeneration,
  });
  const buffer = (status: CapacityBuffer['status']): CapacityBuffer => ({
    metadata: { name: 'seckill-placeholder', generation: 3 },
    spec: { podTemplateRef: { name: 'seckill-placeholder' }, replicas: 5 },
    status,
  });
  const ready = { type: 'ReadyForProvisioning', status: 'True', reason: 'Resolved', observedGeneration: 3 };
  const current = { podTemplateRef: { name: 'seckill-placeholder' }, podTemplateGeneration: 2 };

  it.each<[string, CapacityBuffer['status'], number]>([
    ['no status yet: none', undefined, 0],
    ['resolved, not yet provisioned: none', { conditions: [ready], replicas: 5, ...current }, 0],
    [
      'new nodes still needed: none',
      { conditions: [ready, provisioning('False')], replicas: 5, ...current },
      0,
    ],
    ['all chunks fit: all', { conditions: [ready, provisioning('True')], replicas: 5, ...current }, 5],
    [
      'fewer chunks resolved (limits): those',
      { conditions: [provisioning('True')], replicas: 3, ...current },
      3,
    ],
    ['more than wanted: at most wanted', { conditions: [provisioning('True')], replicas: 9, ...current }, 5],
    [
      'True for an older generation: none',
      { conditions: [provisioning('True', 2)], replicas: 5, ...current },
      0,
    ],
    [
      'True for an older template: none',
      { conditions: [provisioning('True')], replicas: 5, ...current, podTemplateGeneration: 1 },
      0,
    ],
    [
      'True for another template: none',
      { conditions: [provisioning('True')], replicas: 5, podTemplateRef: { name: 'x' } },
      0,
    ],
  ])('%s', (_what, status, want) => {
    expect(bufferProvisioned(buffer(status), template, 5)).toBe(want);
  });

  it('no PodTemplate: nothing shapes the chunks, none', () => {
    const status = { conditions: [provisioning('True')], replicas: 5, ...current };
    expect(bufferProvisioned(buffer(status), undefined, 5)).toBe(0);
  });
});
