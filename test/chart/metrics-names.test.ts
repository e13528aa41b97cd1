// Every metric a Grafana dashboard or a Prometheus alert of the chart queries must be one the code
// exports: a renamed metric otherwise leaves an empty panel or an alert that can never fire.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;
const CHART = join(ROOT, 'charts/stampede');
const DASHBOARDS = join(CHART, 'dashboards');
const RULES = join(CHART, 'templates/prometheusrule.yaml');

/** Metric names a query mentions, histogram series folded onto their metric. */
function queried(text: string): string[] {
  const names = text.match(/stampede_[a-z_]+/g) ?? [];
  return names.map((n) => n.replace(/_(bucket|sum|count)$/, ''));
}

function tsSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : tsSources(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Names registered in code as `name: 'stampede_…'` (prom-client's metric configuration). */
function exported(): Set<string> {
  const names = new Set<string>();
  for (const file of [...tsSources(join(ROOT, 'services')), ...tsSources(join(ROOT, 'operator'))]) {
    for (const m of readFileSync(file, 'utf8').matchAll(/name:\s*['"`](stampede_[a-z_]+)['"`]/g)) {
      if (m[1]) names.add(m[1]);
    }
  }
  return names;
}

const dashboardFiles = readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'));
const used = new Map<string, Set<string>>(); // metric -> files that query it
for (const [file, text] of [
  ...dashboardFiles.map((f) => [`dashboards/${f}`, readFileSync(join(DASHBOARDS, f), 'utf8')] as const),
  ['templates/prometheusrule.yaml', readFileSync(RULES, 'utf8')] as const,
]) {
  for (const name of queried(text)) used.set(name, (used.get(name) ?? new Set()).add(file));
}
const defined = exported();

describe('chart metric names', () => {
  it('finds the dashboards and the alert rules', () => {
    expect(dashboardFiles.sort()).toEqual(['operator.json', 'pipeline.json', 'sale.json']);
    for (const f of dashboardFiles)
      expect(() => JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8'))).not.toThrow();
    expect(queried(readFileSync(RULES, 'utf8')).length).toBeGreaterThan(0);
  });

  it.each([...used.keys()].sort())('%s is exported by the code', (name) => {
    if (!defined.has(name)) {
      throw new Error(
        `${name} (queried in ${[...(used.get(name) ?? [])].join(', ')}) is no metric in services/ or operator/`,
      );
    }
  });
});
