// The chart's hardening, read off what `helm template` renders (issues 19 and 20): uid/gid 10001 and
// ephemeral-storage bounds on every pod, JWT_SECRET only where tokens are signed, NetworkPolicies on by
// default (ingress from the Ingress controller and Prometheus only, egress to what each process uses), the
// operator's HPA bound and the label marking what it may scale.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { CHART, FULL_VALUES, helmTemplate } from './helm.js';

type Obj = k8s.KubernetesObject & { spec?: unknown };

const objects = async (...args: string[]): Promise<Obj[]> =>
  (k8s.loadAllYaml(await helmTemplate(...args)) as (Obj | null)[]).filter((o): o is Obj => Boolean(o));

/** Every pod the chart runs: the four Deployments and the migration Job, by component. */
function pods(all: Obj[]): Map<string, k8s.V1PodTemplateSpec> {
  const out = new Map<string, k8s.V1PodTemplateSpec>();
  for (const o of all)
    if (o.kind === 'Deployment' || o.kind === 'Job') {
      const t = (o as k8s.V1Deployment | k8s.V1Job).spec?.template as k8s.V1PodTemplateSpec;
      out.set(t.metadata?.labels?.['app.kubernetes.io/component'] ?? '?', t);
    }
  return out;
}

const CI = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml'));
const VALUES: [string, string[]][] = [
  ['values.yaml', []],
  ...CI.map((f): [string, string[]] => [`ci/${f}`, ['-f', join(CHART, 'ci', f)]]),
];

it.each(VALUES)('%s: every pod runs as 10001:10001 with bounded ephemeral storage', async (_f, args) => {
  const all = pods(await objects(...args));
  expect([...all.keys()].sort()).toEqual(['api', 'migrate', 'operator', 'orders', 'seckill']);
  for (const [component, t] of all) {
    expect([component, t.spec?.securityContext]).toEqual([
      component,
      expect.objectContaining({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 }),
    ]);
    for (const c of t.spec?.containers ?? []) {
      expect(c.securityContext).toMatchObject({ runAsUser: 10001, runAsGroup: 10001 });
      expect(c.resources?.requests?.['ephemeral-storage']).toMatch(/^\d+Mi$/);
      expect(c.resources?.limits?.['ephemeral-storage']).toMatch(/^\d+Mi$/);
    }
  }
});

it.each(VALUES)('%s: JWT_SECRET reaches only the api and seckill pods', async (_f, args) => {
  const holders = [...pods(await objects(...args))]
    .filter(([, t]) => t.spec?.containers.some((c) => c.env?.some((e) => e.name === 'JWT_SECRET')))
    .map(([component]) => component)
    .sort();
  expect(holders).toEqual(['api', 'seckill']);
});

type Policy = k8s.V1NetworkPolicy;
const selects = (p: Policy, labels: Record<string, string> = {}) =>
  Object.entries(p.spec?.podSelector?.matchLabels ?? { none: '' }).every(([k, v]) => labels[k] === v);

it('NetworkPolicies are on by default: each pod has an ingress and an egress policy', async () => {
  const all = await objects();
  const policies = all.filter((o): o is Policy => o.kind === 'NetworkPolicy');
  const ports = (rules: { ports?: k8s.V1NetworkPolicyPort[] }[] = []) =>
    rules.flatMap((r) => (r.ports ?? []).map((p) => p.port));
  const seen: Record<string, { from: unknown[]; ingressPorts: unknown[]; egressPorts: unknown[] }> = {};
  for (const [component, t] of pods(all)) {
    const mine = policies.filter((p) => selects(p, t.metadata?.labels));
    const ingress = mine.filter((p) => p.spec?.policyTypes?.includes('Ingress'));
    const egress = mine.filter((p) => p.spec?.policyTypes?.includes('Egress'));
    expect([component, ingress.length, egress.length]).toEqual([component, 1, 1]);
    seen[component] = {
      from: (ingress[0]?.spec?.ingress ?? []).map((r) => r._from?.[0]?.namespaceSelector?.matchLabels),
      ingressPorts: ports(ingress[0]?.spec?.ingress),
      egressPorts: ports(egress[0]?.spec?.egress),
    };
  }
  const controller = { 'kubernetes.io/metadata.name': 'ingress-nginx' };
  const monitoring = { 'kubernetes.io/metadata.name': 'monitoring' };
  const dns = [53, 53];
  expect(seen).toEqual({
    // Shoppers through the Ingress controller; Prometheus on the metrics port (the api's management one).
    seckill: {
      from: [controller, monitoring],
      ingressPorts: ['http', 'http'],
      egressPorts: [...dns, 5432, 6379, 26379, 5672, 5671],
    },
    // The api also sends the email-verification links (SMTP_URL, when the Secret has it).
    api: {
      from: [controller, monitoring],
      ingressPorts: ['http', 'management'],
      egressPorts: [...dns, 5432, 6379, 26379, 5672, 5671, 587, 465, 25],
    },
    orders: {
      from: [monitoring],
      ingressPorts: ['http'],
      egressPorts: [...dns, 5432, 6379, 26379, 5672, 5671],
    },
    // Only the operator reaches the API server; it has no AMQP_URL, so no broker either.
    operator: {
      from: [monitoring],
      ingressPorts: ['http'],
      egressPorts: [...dns, 5432, 6379, 26379, 443, 6443],
    },
    // The migration serves nothing and needs only Postgres.
    migrate: { from: [], ingressPorts: [], egressPorts: [...dns, 5432] },
  });
});

it('egress destinations are values: CIDRs or selectors, plus extra rules and tracing', async () => {
  const all = await objects(
    '--set-json',
    'networkPolicy.egress.postgres.to=[{"ipBlock":{"cidr":"10.20.0.0/24"}}]',
    '--set-json',
    'networkPolicy.egress.extra=[{"to":[{"ipBlock":{"cidr":"10.30.0.5/32"}}],"ports":[{"port":587}]}]',
    '--set',
    'tracing.otlpEndpoint=http://otel:4318',
  );
  const egress = all.find((o): o is Policy => o.metadata?.name === 'stampede-orders-egress');
  const rules = egress?.spec?.egress ?? [];
  expect(rules.find((r) => r.ports?.[0]?.port === 5432)?.to).toEqual([{ ipBlock: { cidr: '10.20.0.0/24' } }]);
  expect(rules.find((r) => r.ports?.[0]?.port === 587)?.to).toEqual([{ ipBlock: { cidr: '10.30.0.5/32' } }]);
  expect(rules.some((r) => r.ports?.[0]?.port === 4318)).toBe(true);
  // Turned off, no egress policy is left, the ingress ones stay.
  const off = await objects('--set', 'networkPolicy.egress.enabled=false');
  const names = off.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata?.name);
  expect(names.filter((n) => n?.endsWith('-egress'))).toEqual([]);
  expect(names).toHaveLength(5);
});

it("bounds the operator's HPA floors and labels only what it may scale", async () => {
  const all = await objects('-f', FULL_VALUES, '--set', 'operator.scaling.maxReplicas=30');
  const operator = all.find((o) => o.kind === 'Deployment' && o.metadata?.name === 'stampede-operator') as
    k8s.V1Deployment | undefined;
  const env = operator?.spec?.template.spec?.containers[0]?.env ?? [];
  expect(env.find((e) => e.name === 'OPERATOR_MAX_REPLICAS')?.value).toBe('30');
  const scalable = all
    .filter((o) => o.metadata?.labels?.['stampede.dev/scalable'] === 'true')
    .map((o) => `${o.kind}/${o.metadata?.name}`)
    .sort();
  expect(scalable).toEqual([
    'Deployment/stampede-orders',
    'Deployment/stampede-seckill',
    'HorizontalPodAutoscaler/stampede-orders',
    'HorizontalPodAutoscaler/stampede-seckill',
  ]);
  // Each HPA scales the Deployment of its name, which carries the label too.
  for (const h of all.filter((o): o is k8s.V2HorizontalPodAutoscaler => o.kind === 'HorizontalPodAutoscaler'))
    expect(scalable).toContain(`Deployment/${h.spec?.scaleTargetRef.name}`);
});
