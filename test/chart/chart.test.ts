// The chart checked with real tools: the helm that `npm run tools` builds lints and renders it for every
// ci/*-values.yaml, and the envtest kube-apiserver accepts every rendered object in a server-side dry run
// (after the CRD is installed). The chart's CRD must be the very file in k8s/crd/.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { EnvTest } from '../../operator/kube/envtest.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const HELM = join(root, '.tools/bin/helm');
const CHART = join(root, 'charts/stampede');
const valuesFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml'));

// The Prometheus Operator's kinds, as permissive CRDs: the dry run checks our objects reach the API
// server well-formed, the real CRDs come with the Prometheus Operator.
const monitoringCrds = ['ServiceMonitor:servicemonitors', 'PrometheusRule:prometheusrules']
  .map((x) => {
    const [kind, plural] = x.split(':') as [string, string];
    return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ${kind}, plural: ${plural}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;
  })
  .join('---\n');

let env: EnvTest;

beforeAll(async () => {
  env = await EnvTest.start();
  await env.apply(join(root, 'k8s/crd/seckillactivities.yaml'));
  const dir = mkdtempSync(join(tmpdir(), 'chart-'));
  writeFileSync(join(dir, 'monitoring.yaml'), monitoringCrds);
  await env.apply(join(dir, 'monitoring.yaml'));
  await env
    .kubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name: 'stampede' } } });
}, 120_000);
afterAll(async () => {
  await env?.stop();
});

it('ships the CRD byte for byte as k8s/crd/', () => {
  expect(readFileSync(join(CHART, 'crds/seckillactivities.yaml'))).toEqual(
    readFileSync(join(root, 'k8s/crd/seckillactivities.yaml')),
  );
});

it.each(valuesFiles)(
  'lints and renders with ci/%s, and the API server accepts every object',
  async (values) => {
    const f = join(CHART, 'ci', values);
    await run(HELM, ['lint', CHART, '-f', f]);
    const { stdout } = await run(HELM, ['template', 'stampede', CHART, '-f', f, '--namespace', 'stampede'], {
      maxBuffer: 16 << 20,
    });
    const objects = (k8s.loadAllYaml(stdout) as (k8s.KubernetesObject | null)[]).filter(
      (o): o is k8s.KubernetesObject => Boolean(o),
    );
    expect(objects.length).toBeGreaterThan(10);
    const client = k8s.KubernetesObjectApi.makeApiClient(env.kubeConfig());
    const refused: string[] = [];
    for (const o of objects) {
      if (o.metadata && !o.metadata.namespace && o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding')
        o.metadata.namespace = 'stampede';
      await client
        .create(o, undefined, 'All')
        .catch((err: unknown) =>
          refused.push(`${o.kind}/${o.metadata?.name}: ${String((err as { body?: string }).body ?? err)}`),
        );
    }
    expect(refused).toEqual([]);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of [
      'Deployment',
      'Service',
      'Ingress',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'ClusterRole',
      'ServiceAccount',
    ]) {
      expect(kinds).toContain(k);
    }
  },
  60_000,
);

it('renders no secret value and the restricted pod security fields', async () => {
  const { stdout } = await run(
    HELM,
    ['template', 'stampede', CHART, '-f', join(CHART, 'ci/full-values.yaml')],
    { maxBuffer: 16 << 20 },
  );
  const deployments = (k8s.loadAllYaml(stdout) as k8s.V1Deployment[]).filter((o) => o?.kind === 'Deployment');
  for (const d of deployments) {
    const pod = d.spec?.template.spec;
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    for (const c of pod?.containers ?? []) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      for (const e of c.env ?? [])
        expect(['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET', 'DATABASE_URL', 'ADMIN_PASSWORD']).not.toContain(
          e.value === undefined ? '' : e.name,
        );
    }
  }
  expect(stdout).not.toMatch(/stampede-development-secret/);
});

it('installs k8s/ with kustomize resources the API server accepts', async () => {
  const kustomization = readFileSync(join(root, 'k8s/kustomization.yaml'), 'utf8');
  const files = [...kustomization.matchAll(/^\s+-\s+(\S+\.yaml)$/gm)].map((m) => m[1] as string);
  expect(files).toEqual(['crd/seckillactivities.yaml', 'operator-rbac.yaml']);
  await env.apply(join(root, 'k8s/operator-rbac.yaml'));
});
