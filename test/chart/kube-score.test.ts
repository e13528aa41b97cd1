// The chart judged by kube-score (v1.20, built by `npm run tools`): the rendered defaults (values.yaml) and
// the everything-on values (ci/full-values.yaml) have no CRITICAL finding. Every check it skips is named
// below with the reason; nothing else is ignored.
import { join } from 'node:path';
import { FULL_VALUES, helmTemplate, ROOT, run } from './helm.js';

const KUBE_SCORE = join(ROOT, '.tools/bin/kube-score');

/*
 * The checks turned off, each for a reason of this platform's:
 * - CPU limits (--ignore-container-cpu-limit): none on purpose. A CFS quota throttles the seckill in the very
 *   second a sale opens (and the api's Argon2 logins), while the HPA scales on the CPU *request*, which
 *   every container sets. Memory and ephemeral-storage limits stay.
 * - container-image-pull-policy, for values.yaml only: `IfNotPresent` with the pinned appVersion tag.
 *   `Always` makes every pod the HPA adds in a flash crowd ask the registry first, so a registry outage
 *   during a sale means no new capacity; the image holds no secret (credentials come from the Secret).
 *   `image.pullPolicy: Always` is one value away: ci/full-values.yaml sets it and is judged with the check on.
 */
interface Finding {
  object: string;
  check: string;
  grade: 'CRITICAL' | 'WARNING';
  comment: string;
}

/** kube-score's json: one entry per object, each check with its grade (1 critical, 5 warning, 10 ok). */
type ScoreJson = {
  object_meta: { name: string };
  type_meta: { kind: string };
  checks: {
    check: { id: string };
    grade: number;
    skipped: boolean;
    comments: { summary: string; path?: string }[] | null;
  }[];
}[];

async function score(manifests: string, pullPolicyChecked: boolean): Promise<Finding[]> {
  const args = ['score', '-', '--kubernetes-version', 'v1.30', '-o', 'json', '--ignore-container-cpu-limit'];
  if (!pullPolicyChecked) args.push('--ignore-test', 'container-image-pull-policy');
  // kube-score exits 1 when it finds a CRITICAL; the findings are in its output either way.
  const child = run(KUBE_SCORE, args, { maxBuffer: 16 << 20 });
  child.child.stdin?.end(manifests);
  const { stdout } = await child.catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const objects = JSON.parse(stdout) as ScoreJson;
  expect(objects.length).toBeGreaterThan(10);
  return objects.flatMap((o) =>
    o.checks
      .filter((c) => !c.skipped && (c.grade === 1 || c.grade === 5))
      .map((c) => ({
        object: `${o.type_meta.kind}/${o.object_meta.name}`,
        check: c.check.id,
        grade: c.grade === 1 ? ('CRITICAL' as const) : ('WARNING' as const),
        comment: (c.comments ?? []).map((m) => `${m.path ?? ''} ${m.summary}`).join('; '),
      })),
  );
}

const critical = (findings: Finding[]) => findings.filter((f) => f.grade === 'CRITICAL');

it('the default values have no CRITICAL finding, nor a warning', async () => {
  const findings = await score(await helmTemplate(), false);
  expect(critical(findings)).toEqual([]);
  expect(findings).toEqual([]);
}, 60_000);

it('ci/full-values.yaml has no CRITICAL finding, with the pull-policy check on', async () => {
  expect(critical(await score(await helmTemplate('-f', FULL_VALUES), true))).toEqual([]);
}, 60_000);

it('is a real judge: the old defaults fail on what this chart fixed', async () => {
  // uid 1000, no ephemeral-storage, no NetworkPolicy: the chart as it was before issue 19.
  const old = await helmTemplate(
    '--set',
    'podSecurityContext.runAsUser=1000,podSecurityContext.runAsGroup=1000,securityContext.runAsUser=1000,securityContext.runAsGroup=1000',
    '--set',
    'networkPolicy.enabled=false',
    '--set',
    'seckill.resources.requests.ephemeral-storage=null,seckill.resources.limits.ephemeral-storage=null',
  );
  const found = new Set(critical(await score(old, false)).map((f) => `${f.object} ${f.check}`));
  for (const check of [
    'container-security-context-user-group-id',
    'pod-networkpolicy',
    'container-ephemeral-storage-request-and-limit',
  ])
    expect(found).toContain(`Deployment/stampede-seckill ${check}`);
  expect(found).toContain('Job/stampede-migrate pod-networkpolicy');
}, 60_000);
