// The Grafana dashboards follow Grafana's dashboard JSON model (the classic model of schemaVersion 39,
// Grafana 10.3+; fields as in grafana/grafana kinds/dashboard/dashboard_kind.cue): the data source is a
// template variable every panel and query uses, uids are fixed and derived from the file name (so links
// and provisioning survive a title change), and nothing names one Grafana's data source or one instance.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helm.js';

const DIR = join(ROOT, 'charts/stampede/dashboards');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const VARIABLE_TYPES = [
  'query',
  'adhoc',
  'constant',
  'datasource',
  'interval',
  'textbox',
  'custom',
  'system',
];
const PANEL_TYPES = [
  'timeseries',
  'stat',
  'table',
  'gauge',
  'bargauge',
  'text',
  'row',
  'heatmap',
  'piechart',
];
/** Grafana's own variables a Prometheus query may use. */
const BUILTINS = ['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms'];

interface Target {
  refId?: string;
  expr?: string;
  datasource?: unknown;
  instant?: boolean;
  range?: boolean;
}
interface Panel {
  id?: unknown;
  type?: string;
  title?: string;
  datasource?: unknown;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  fieldConfig?: { defaults?: unknown; overrides?: unknown };
  options?: unknown;
}
interface Variable {
  name?: string;
  type?: string;
  hide?: number;
  query?: unknown;
  datasource?: unknown;
  refresh?: number;
  includeAll?: boolean;
  allValue?: string;
}
interface Dashboard {
  [k: string]: unknown;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboards = files.map(
  (f) => [f, JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard] as const,
);
const queries = (d: Dashboard) => d.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr ?? '');

/** Every `datasource` value anywhere in the JSON. */
function datasources(v: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) v.forEach((x) => datasources(x, out));
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      if (k === 'datasource') out.push(x);
      else datasources(x, out);
    }
  return out;
}

it('finds the three dashboards, with distinct uids', () => {
  expect(files.sort()).toEqual(['operator.json', 'pipeline.json', 'sale.json']);
  const uids = dashboards.map(([, d]) => d.uid);
  expect(new Set(uids).size).toBe(uids.length);
});

describe.each(dashboards)('%s', (file, d) => {
  it('has the dashboard fields of schemaVersion 39', () => {
    expect(d.schemaVersion).toBe(39);
    // A stable uid: fixed in the file, named after it, within Grafana's 40 characters.
    expect(d.uid).toBe(`stampede-${file.replace(/\.json$/, '')}`);
    expect(String(d.uid)).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    // `id` is the database key of one Grafana instance: a shipped dashboard has none.
    expect(d.id ?? null).toBeNull();
    expect(typeof d.title).toBe('string');
    expect(d.title).toMatch(/^Stampede \/ /);
    expect(d.tags).toEqual(expect.arrayContaining(['stampede']));
    expect(['browser', 'utc', '']).toContain(d.timezone);
    expect(typeof d.editable).toBe('boolean');
    expect([0, 1, 2]).toContain(d.graphTooltip);
    expect(d.time).toEqual({ from: expect.any(String), to: expect.any(String) });
    expect(d.refresh === false || /^\d+[smhd]$/.test(String(d.refresh))).toBe(true);
    expect(Number.isInteger(d.version)).toBe(true);
    expect(Array.isArray((d.annotations as { list?: unknown })?.list)).toBe(true);
    expect(Array.isArray(d.templating.list)).toBe(true);
    expect(d.panels.length).toBeGreaterThan(0);
  });

  it('takes its data source as the first template variable, of type datasource', () => {
    const [first, ...rest] = d.templating.list;
    expect(first).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    for (const v of d.templating.list) {
      expect(VARIABLE_TYPES).toContain(v.type);
      expect(v.name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
      expect([0, 1, 2]).toContain(v.hide);
    }
    for (const v of rest.filter((x) => x.type === 'query')) {
      expect(v.datasource).toEqual(DATASOURCE);
      expect([1, 2]).toContain(v.refresh);
      expect(JSON.stringify(v.query)).toMatch(/label_values\(stampede_[a-z_]+, *[a-z_]+\)/);
      if (v.includeAll) expect(typeof v.allValue).toBe('string');
    }
  });

  it('has panels Grafana can lay out, each querying through ${datasource}', () => {
    const ids = d.panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && (id as number) > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of d.panels) {
      const where = `${file} panel ${String(p.id)} (${p.title})`;
      expect({ where, type: PANEL_TYPES.includes(p.type ?? '') }).toEqual({ where, type: true });
      expect(p.title).toEqual(expect.any(String));
      const g = p.gridPos;
      expect(g && g.h > 0 && g.w >= 1 && g.w <= 24 && g.x >= 0 && g.x + g.w <= 24 && g.y >= 0).toBe(true);
      // A row is a heading over the panels below it: it queries nothing and draws no field.
      if (p.type === 'row') continue;
      expect(p.datasource).toEqual(DATASOURCE);
      expect(p.fieldConfig).toEqual({ defaults: expect.any(Object), overrides: expect.any(Array) });
      expect(p.options).toEqual(expect.any(Object));
      expect(p.targets?.length).toBeGreaterThan(0);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const t of p.targets ?? []) {
        expect(t.refId).toMatch(/^[A-Z]$/);
        expect(t.datasource).toEqual(DATASOURCE);
        expect(t.expr).toMatch(/stampede_/);
      }
    }
  });

  it('asks a figure over the whole time range ($__range) once, as an instant query', () => {
    for (const p of d.panels)
      for (const t of p.targets ?? [])
        if (t.expr?.includes('$__range'))
          expect({ panel: p.title, instant: t.instant, range: t.range }).toEqual({
            panel: p.title,
            instant: true,
            range: false,
          });
  });

  it('lays no panel over another', () => {
    const boxes = d.panels.map((p) => ({ id: p.id, ...(p.gridPos as NonNullable<Panel['gridPos']>) }));
    for (const a of boxes)
      for (const b of boxes) {
        if (a === b) continue;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect({ a: a.id, b: b.id, overlap }).toEqual({ a: a.id, b: b.id, overlap: false });
      }
  });

  it('names no instance: no data source uid, host, pod or job of its own', () => {
    for (const ds of datasources(d)) expect([DATASOURCE, 'prometheus']).toContainEqual(ds);
    const text = JSON.stringify(d);
    expect(text).not.toMatch(/\$\{DS_|__inputs|localhost|\b\d{1,3}(\.\d{1,3}){3}\b|:\d{4,5}\b/);
    for (const q of queries(d)) expect(q).not.toMatch(/\b(instance|pod|job|namespace|node)=~?"[^"$]/);
  });

  it('uses only variables it defines or Grafana provides, and every one it defines', () => {
    const defined = d.templating.list.map((v) => v.name as string);
    const used = new Set(
      queries(d).flatMap((q) => [...q.matchAll(/\$\{?(\w+)/g)].map((m) => m[1] as string)),
    );
    for (const name of used) expect([...defined, ...BUILTINS]).toContain(name);
    for (const name of defined.filter((n) => n !== 'datasource')) expect([...used]).toContain(name);
  });
});
