// skaffold.yaml checked against Skaffold's own published JSON Schema for its apiVersion
// (../shared/schemas/skaffold/, draft-07, validated with ajv), as written and with every profile applied the
// way Skaffold applies one: the profile's pipeline fields overlaid on the base, then its JSON patches, each
// of which must apply on its own. The values every release passes must be ones the chart accepts.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { applyPatch, deepClone, validate as patchError, type Operation } from 'fast-json-patch';
import { parse } from 'yaml';
import { CHART, HELM, ROOT, run } from './helm.js';

const SCHEMAS = resolve(ROOT, '../shared/schemas/skaffold');
type Json = Record<string, unknown>;
interface Profile extends Json {
  name: string;
  patches?: (Omit<Operation, 'op'> & { op?: Operation['op'] })[];
}
interface HelmRelease {
  name: string;
  chartPath?: string;
  valuesFiles?: string[];
  setValues?: Record<string, unknown>;
  setValueTemplates?: Record<string, unknown>;
}

const config = parse(readFileSync(join(ROOT, 'skaffold.yaml'), 'utf8')) as Json & {
  apiVersion: string;
  profiles?: Profile[];
};
const profiles = config.profiles ?? [];
const ajv = new Ajv({ strict: false, allErrors: true });
const schemaVersions = readdirSync(SCHEMAS)
  .filter((f) => /^v\d+(alpha|beta)?\d*\.json$/.test(f))
  .map((f) => f.replace(/\.json$/, ''));

function schemaFor(apiVersion: string) {
  const version = apiVersion.replace(/^skaffold\//, '');
  const file = join(SCHEMAS, `${version}.json`);
  if (!existsSync(file)) throw new Error(`no schema for ${apiVersion} in ${SCHEMAS}`);
  return ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
}
const validate = schemaFor(config.apiVersion);

const problems = (errors: ErrorObject[] | null | undefined): string[] =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Skaffold's overlay: structs merge field by field; a non-empty list or scalar of the profile replaces. */
function overlay(base: unknown, over: unknown): unknown {
  if (isObject(base) && isObject(over)) {
    const out: Json = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = overlay(base[k], v);
    return out;
  }
  if (over === undefined || over === '' || (Array.isArray(over) && over.length === 0)) return base;
  return over;
}

/** The configuration Skaffold runs with `-p <profile>` (the profiles section dropped, as Skaffold does). */
function withProfile(p: Profile): Json {
  const { name: _n, activation: _a, requiresAllActivations: _r, patches = [], ...pipeline } = p;
  const { profiles: _p, ...base } = config;
  const overlaid = overlay(base, pipeline) as Json;
  const ops = patches.map((op) => ({ ...op, op: op.op ?? 'replace' }) as Operation);
  // Skaffold tries every patch alone on the overlaid config before applying them all in order.
  for (const op of ops) {
    const err = patchError([op], deepClone(overlaid));
    if (err) throw new Error(`profile ${p.name}: patch ${JSON.stringify(op)} does not apply: ${err.message}`);
  }
  return applyPatch(deepClone(overlaid), ops, true).newDocument as Json;
}

function releases(c: Json): HelmRelease[] {
  const deploy = c.deploy as { helm?: { releases?: HelmRelease[] } } | undefined;
  return deploy?.helm?.releases ?? [];
}

describe('skaffold.yaml', () => {
  it('uses the newest apiVersion Skaffold publishes a schema for', () => {
    const newest = [...schemaVersions].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
    expect(schemaVersions).toContain('v4beta14');
    expect(config.apiVersion).toBe(`skaffold/${newest}`);
  });

  it('validates against the schema of its apiVersion', () => {
    const ok = validate(config);
    expect(problems(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it('is checked by a schema that refuses what Skaffold does not know', () => {
    const typo = deepClone(config) as Json;
    const release = releases(typo)[0] as unknown as Json;
    release.valueFiles = release.valuesFiles;
    expect(validate(typo)).toBe(false);
    expect(problems(validate.errors).join('\n')).toMatch(/additionalProperty.*valueFiles/);
  });

  it('has profiles', () => {
    expect(profiles.map((p) => p.name)).toEqual(expect.arrayContaining(['dev', 'production-like']));
  });

  it.each(profiles.map((p) => [p.name, p] as const))(
    'with profile %s applied, still validates and renders the chart',
    async (_name, profile) => {
      const applied = withProfile(profile);
      const ok = validate({ ...applied, profiles: [] });
      expect(problems(validate.errors)).toEqual([]);
      expect(ok).toBe(true);
      const list = releases(applied);
      expect(list.length).toBeGreaterThan(0);
      for (const r of list) await renders(r);
    },
    60_000,
  );

  it('points at files that exist', () => {
    const build = config.build as { artifacts: { docker?: { dockerfile?: string }; context?: string }[] };
    for (const a of build.artifacts)
      expect(existsSync(join(ROOT, a.context ?? '.', a.docker?.dockerfile ?? 'Dockerfile'))).toBe(true);
    for (const r of releases(config)) {
      expect(resolve(ROOT, r.chartPath ?? '')).toBe(CHART);
      for (const f of r.valuesFiles ?? []) expect(existsSync(join(ROOT, f))).toBe(true);
    }
  });
});

/** helm template with the release's values files and --set values (templates given placeholder values). */
async function renders(r: HelmRelease): Promise<void> {
  const sets = [
    ...Object.entries(r.setValues ?? {}).map(([k, v]) => `${k}=${String(v)}`),
    ...Object.entries(r.setValueTemplates ?? {}).map(([k, v]) => `${k}=${placeholder(String(v))}`),
  ];
  const args = ['template', r.name, join(ROOT, r.chartPath ?? '.')];
  for (const f of r.valuesFiles ?? []) args.push('-f', join(ROOT, f));
  for (const s of sets) args.push('--set', s);
  const { stdout } = await run(HELM, args, { maxBuffer: 16 << 20 });
  expect(stdout).toMatch(/kind: Deployment/);
  for (const [k, v] of Object.entries(r.setValues ?? {}))
    if (k.startsWith('env.')) expect(stdout).toContain(`value: ${JSON.stringify(String(v))}`);
}

/** What Skaffold substitutes for {{.IMAGE_REPO_x}}, {{.IMAGE_TAG_x}} and {{.IMAGE_DIGEST_x}}. */
function placeholder(template: string): string {
  return template
    .replace(/\{\{\s*\.IMAGE_REPO_\w+\s*\}\}/g, 'registry.example.com/stampede')
    .replace(/\{\{\s*\.IMAGE_TAG_\w+\s*\}\}/g, 'dev')
    .replace(/\{\{\s*\.IMAGE_DIGEST_\w+\s*\}\}/g, `sha256:${'0'.repeat(64)}`);
}
