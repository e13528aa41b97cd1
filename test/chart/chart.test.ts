// The chart checked with real tools: the helm that `npm run tools` builds lints and renders it for every
// ci/*-values.yaml, and the envtest kube-apiserver accepts every rendered object in a server-side dry run
// (after the CRD and the Prometheus Operator's CRDs are installed). The chart's CRD must be the very file in k8s/crd/.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
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
  // `sales`: ci/full-values.yaml's operator.watchNamespace, where its Role lives; `shop` its release's.
  const core = env.kubeConfig().makeApiClient(k8s.CoreV1Api);
  for (const name of ['stampede', 'shop', 'sales', 'elsewhere'])
    await core.createNamespace({ body: { metadata: { name } } });
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
      'NetworkPolicy',
      'ServiceAccount',
    ]) {
      expect(kinds).toContain(k);
    }
    // A watched namespace gets a Role there; only an operator of every namespace gets a ClusterRole.
    const given = parse(readFileSync(f, 'utf8')) as { operator?: { watchNamespace?: string } } | null;
    const scoped = Boolean(given?.operator?.watchNamespace);
    expect(kinds.has('ClusterRole')).toBe(!scoped);
    expect(kinds.has('ClusterRoleBinding')).toBe(!scoped);
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
      // The api's probes use its management port (the Ingress routes its http port); the others' http.
      const port = c.name === 'api' ? 'management' : 'http';
      expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port });
      expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port });
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
  // ... and only ever to their `http` port: /metrics, /healthz and /readyz of the api are on `metrics`.
  const ports = ingress?.spec?.rules?.[0]?.http?.paths.map((p) => p.backend.service?.port?.name);
  expect(ports).toEqual(['http', 'http']);
  const apiService = (k8s.loadAllYaml(stdout) as k8s.V1Service[]).find(
    (o) => o?.kind === 'Service' && o.metadata?.name === 'stampede-api',
  );
  expect(apiService?.spec?.ports?.map((p) => [p.name, p.targetPort])).toEqual([
    ['http', 'http'],
    ['metrics', 'management'],
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

/** What the API server's RBAC answers for the operator's ServiceAccount (a SubjectAccessReview). */
async function operatorMay(verb: string, resource: string, namespace?: string): Promise<boolean> {
  const authz = env.kubeConfig().makeApiClient(k8s.AuthorizationV1Api);
  const group = {
    seckillactivities: 'stampede.dev',
    horizontalpodautoscalers: 'autoscaling',
    leases: 'coordination.k8s.io',
  }[resource];
  const review = await authz.createSubjectAccessReview({
    body: {
      spec: {
        user: 'system:serviceaccount:shop:stampede-operator',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'],
        resourceAttributes: { verb, resource, group: group ?? '', namespace },
      },
    },
  });
  return review.status?.allowed === true;
}

it('with operator.watchNamespace, RBAC lets the operator into that namespace only', async () => {
  const { stdout } = await run(
    HELM,
    // Its own release namespace: k8s/operator-rbac.yaml (applied above) binds a ClusterRole in `stampede`.
    ['template', 'stampede', CHART, '-f', join(CHART, 'ci/full-values.yaml'), '--namespace', 'shop'],
    { maxBuffer: 16 << 20 },
  );
  const rbac = (k8s.loadAllYaml(stdout) as (k8s.KubernetesObject | null)[]).filter(
    (o): o is k8s.KubernetesObject =>
      Boolean(o && (o.kind === 'ServiceAccount' || o.kind?.startsWith('Role'))),
  );
  expect(rbac.map((o) => `${o.kind} ${o.metadata?.namespace ?? '(release)'}`).sort()).toEqual([
    'Role (release)',
    'Role sales',
    'RoleBinding (release)',
    'RoleBinding sales',
    'ServiceAccount (release)',
  ]);
  const client = k8s.KubernetesObjectApi.makeApiClient(env.kubeConfig());
  for (const o of rbac) {
    o.metadata = { ...o.metadata, namespace: o.metadata?.namespace ?? 'shop' };
    await client.create(o);
  }
  expect(await operatorMay('watch', 'seckillactivities', 'sales')).toBe(true);
  expect(await operatorMay('update', 'horizontalpodautoscalers', 'sales')).toBe(true);
  expect(await operatorMay('update', 'leases', 'shop')).toBe(true);
  // Nowhere else, and nothing cluster-wide.
  expect(await operatorMay('watch', 'seckillactivities', 'elsewhere')).toBe(false);
  expect(await operatorMay('update', 'horizontalpodautoscalers', 'elsewhere')).toBe(false);
  expect(await operatorMay('list', 'seckillactivities')).toBe(false);
  expect(await operatorMay('get', 'secrets', 'sales')).toBe(false);
}, 60_000);

it('the install notes warn when trustProxyHops trusts a header any pod can forge', async () => {
  const notes = async (...set: string[]) => {
    const { stdout } = await run(
      HELM,
      // helm install asks the API server for its version even in a client dry run: the envtest's.
      [
        'install',
        // A release and namespace nothing else here uses: install checks for objects it would take over.
        'notes',
        CHART,
        '--dry-run=client',
        '--kubeconfig',
        env.kubeConfigFile(),
        '-n',
        'elsewhere',
        ...set,
      ],
      { maxBuffer: 16 << 20 },
    );
    return stdout.slice(stdout.indexOf('NOTES:'));
  };
  expect(await notes()).not.toMatch(/X-Forwarded-For/);
  expect(await notes('--set', 'networkPolicy.enabled=false')).toMatch(/trustProxyHops=1.*X-Forwarded-For/s);
  expect(await notes('--set', 'networkPolicy.enabled=false', '--set', 'trustProxyHops=0')).not.toMatch(
    /X-Forwarded-For/,
  );
}, 30_000);
