// The chart checked with real tools: the helm that `npm run tools` builds lints and renders it for every
// ci/*-values.yaml, and the envtest kube-apiserver accepts every rendered object in a server-side dry run
// (after the CRD and the Prometheus Operator's CRDs are installed). The chart's CRD must be the very file in k8s/crd/.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { EnvTest } from '../../rehearsal/envtest.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const HELM = join(root, '.tools/bin/helm');
const CHART = join(root, 'charts/stampede');
const valuesFiles = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml'));

// The Prometheus Operator's real CRDs (v0.93.0, beside the repo in ../shared): their structural schemas
// validate every field of the chart's ServiceMonitor and PrometheusRule in the dry run.
const MONITORING_CRDS = resolve(root, '../shared/crds/prometheus-operator');
const monitoringCrds = readdirSync(MONITORING_CRDS).filter((f) =>
  /^monitoring\.coreos\.com_.*\.yaml$/.test(f),
);

let env: EnvTest;

/**
 * A client whose writes use `fieldValidation=Strict`: the API server refuses an unknown or duplicate field
 * instead of dropping it with a warning (its default), so a misspelt ServiceMonitor field fails the dry run.
 */
function strictClient(kc: k8s.KubeConfig): k8s.KubernetesObjectApi {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('envtest kubeconfig without a cluster');
  const strict = {
    pre: (ctx: k8s.RequestContext) => (ctx.setQueryParam('fieldValidation', 'Strict'), Promise.resolve(ctx)),
    post: (res: k8s.ResponseContext) => Promise.resolve(res),
  };
  return new k8s.KubernetesObjectApi(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [strict],
    }),
  );
}

/** Dry-run creates every object in namespace `stampede`; answers the refusals. */
async function dryRun(objects: k8s.KubernetesObject[]): Promise<string[]> {
  const client = strictClient(env.kubeConfig());
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
  return refused;
}

beforeAll(async () => {
  env = await EnvTest.start();
  await env.apply(join(root, 'k8s/crd/seckillactivities.yaml'));
  expect(monitoringCrds.sort()).toEqual([
    'monitoring.coreos.com_podmonitors.yaml',
    'monitoring.coreos.com_prometheusrules.yaml',
    'monitoring.coreos.com_servicemonitors.yaml',
  ]);
  for (const f of monitoringCrds) await env.apply(join(MONITORING_CRDS, f));
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
    expect(await dryRun(objects)).toEqual([]);
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

it('validates the monitoring objects against the real Prometheus Operator schemas', async () => {
  const { stdout } = await run(
    HELM,
    ['template', 'stampede', CHART, '-f', join(CHART, 'ci/full-values.yaml'), '--namespace', 'stampede'],
    { maxBuffer: 16 << 20 },
  );
  const monitoring = (k8s.loadAllYaml(stdout) as (k8s.KubernetesObject | null)[]).filter(
    (o): o is k8s.KubernetesObject => o?.apiVersion === 'monitoring.coreos.com/v1',
  );
  expect(monitoring.map((o) => o.kind).sort()).toEqual(['PrometheusRule', 'ServiceMonitor']);
  expect(await dryRun(structuredClone(monitoring))).toEqual([]);
  // The same objects spoilt the ways a hand edit spoils them: every one is refused, so the schemas above
  // are the real ones and not permissive stand-ins.
  type Spec = {
    endpoints?: Record<string, unknown>[];
    groups?: { rules: Record<string, unknown>[] }[];
  };
  const spoilt = (
    monitor: (e: Record<string, unknown>) => void,
    rule: (r: Record<string, unknown>) => void,
  ) =>
    monitoring.map((o) => {
      const copy = structuredClone(o) as k8s.KubernetesObject & { spec: Spec };
      if (copy.spec.endpoints?.[0]) monitor(copy.spec.endpoints[0]);
      if (copy.spec.groups?.[0]?.rules[1]) rule(copy.spec.groups[0].rules[1]);
      return copy;
    });
  const refusals = [
    ...(await dryRun(
      spoilt(
        (e) => (e.scrapeTimout = '10s'),
        (r) => (r.fore = '5m'),
      ),
    )),
    ...(await dryRun(
      spoilt(
        (e) => (e.interval = '15 seconds'),
        (r) => (r.for = 'ten minutes'),
      ),
    )),
  ];
  expect(refusals).toHaveLength(4);
  expect(refusals.join('\n')).toMatch(/unknown field.*scrapeTimout/);
  expect(refusals.join('\n')).toMatch(/unknown field.*fore/);
  expect(refusals.join('\n')).toMatch(/interval.*should match/);
  expect(refusals.join('\n')).toMatch(/for.*should match/);
}, 60_000);

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
  // The Ingress sends purchases to seckill and everything else, the storefront at / included, to the api.
  const ingress = (k8s.loadAllYaml(stdout) as k8s.V1Ingress[]).find((o) => o?.kind === 'Ingress');
  const routes = ingress?.spec?.rules?.[0]?.http?.paths.map((p) => [p.path, p.backend.service?.name]);
  expect(routes).toEqual([
    ['/seckill', 'stampede-seckill'],
    ['/', 'stampede-api'],
  ]);
  // One seckill process per pod: node:cluster is for a machine, pods are the HPA's.
  const seckill = deployments.find((d) => d.metadata?.name?.endsWith('seckill'));
  const workers = seckill?.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'SECKILL_WORKERS');
  expect(workers?.value).toBe('1');
});

it('installs k8s/ with kustomize resources the API server accepts', async () => {
  const kustomization = readFileSync(join(root, 'k8s/kustomization.yaml'), 'utf8');
  const files = [...kustomization.matchAll(/^\s+-\s+(\S+\.yaml)$/gm)].map((m) => m[1] as string);
  expect(files).toEqual(['crd/seckillactivities.yaml', 'operator-rbac.yaml']);
  await env.apply(join(root, 'k8s/operator-rbac.yaml'));
});
