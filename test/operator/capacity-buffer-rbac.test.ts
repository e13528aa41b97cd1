// The CapacityBuffer path when RBAC forbids it (docs/capacity-buffer.md): the API server serves Karpenter's
// CRD, but the operator's identity may not list capacitybuffers. Its pass falls back to the placeholder
// Deployment and logs the Forbidden once, not on every pass. applyPlaceholders is called with a KubeClient of
// that identity against a real API server.
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { EnvTest } from '../../rehearsal/envtest.js';
import { applyPlaceholders } from '../../operator/capacity.js';
import { DETECT_TTL_MS } from '../../operator/capacity-buffer.js';
import { KubeClient } from '../../operator/kube/client.js';
import { activitySpecSchema } from '../../services/core/activity/spec.js';
import { saleSpec, SCALABLE } from '../helpers/operator.js';

const BUFFER_CRD = new URL('../../.tools/crds/autoscaling.x-k8s.io_capacitybuffers.yaml', import.meta.url)
  .pathname;
const USER = 'no-buffers';
const NS = 'shop';
let env: EnvTest;

/** What the operator may do without the CapacityBuffer rule: the Deployment path's rules, PodTemplates. */
async function grant(admin: k8s.KubeConfig): Promise<void> {
  const rbac = admin.makeApiClient(k8s.RbacAuthorizationV1Api);
  await rbac.createClusterRole({
    body: {
      metadata: { name: USER },
      rules: [
        {
          apiGroups: ['apps'],
          resources: ['deployments'],
          verbs: ['get', 'list', 'create', 'patch', 'delete'],
        },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        { apiGroups: [''], resources: ['podtemplates'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: USER },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: USER },
      subjects: [{ kind: 'User', name: USER, apiGroup: 'rbac.authorization.k8s.io' }],
    },
  });
}

beforeAll(async () => {
  env = await EnvTest.start([{ user: USER, groups: ['system:authenticated'] }]);
  await env.apply(BUFFER_CRD);
  const admin = env.kubeConfig();
  await grant(admin);
  await admin.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
  const labels = { app: 'web' };
  await admin.makeApiClient(k8s.AppsV1Api).createNamespacedDeployment({
    namespace: NS,
    body: {
      metadata: { name: 'web', labels: { [SCALABLE]: 'true' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'stampede:dev' }] } },
      },
    },
  });
}, 120_000);
afterAll(async () => {
  await env?.stop();
});

it('a Forbidden on capacitybuffers falls back to the placeholder Deployment, logged once, not on every discovery', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const kube = new KubeClient(env.kubeConfig(USER));
  const spec = activitySpecSchema.parse(
    saleSpec({
      startInMs: 600_000,
      lengthMs: 60_000,
      targets: [{ name: 'web', minReplicas: 6, maxReplicas: 8 }],
    }),
  );
  const now = Date.now();
  // Two passes on one discovery answer, one after the next discovery.
  for (const at of [now, now + 1000, now + DETECT_TTL_MS + 1000]) {
    const seen = await applyPlaceholders(kube, NS, ['web'], [spec], at, Infinity, log);
    expect(seen.get('web')).toMatchObject({ placeholders: 4, running: 0, pending: 0 });
  }
  const apps = env.kubeConfig().makeApiClient(k8s.AppsV1Api);
  const d = await apps.readNamespacedDeployment({ namespace: NS, name: 'web-placeholder' });
  expect(d.spec?.replicas).toBe(4);
  const forbidden = lines.filter((l) => l.includes('CapacityBuffers forbidden'));
  expect(forbidden).toHaveLength(1);
  expect(JSON.parse(forbidden[0] as string)).toMatchObject({ level: 40 });
}, 60_000);
