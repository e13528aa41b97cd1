// What Grafana sends to Prometheus for a dashboard of charts/stampede/dashboards: every panel target's
// `expr` with the template variables and Grafana's own `$__…` variables filled in, as a range query (a
// time-series panel, or a stat without `instant`) or an instant query (`instant: true`, `range: false`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helm.js';

export const DASHBOARDS = join(ROOT, 'charts/stampede/dashboards');

export interface GrafanaTarget {
  refId: string;
  expr: string;
  instant?: boolean;
  range?: boolean;
}
export interface GrafanaVariable {
  name: string;
  type: string;
  query?: string | { query?: string };
  includeAll?: boolean;
  allValue?: string;
}
export interface GrafanaDashboard {
  uid: string;
  panels: { id: number; title: string; type: string; targets?: GrafanaTarget[] }[];
  templating: { list: GrafanaVariable[] };
}

export interface PanelQuery {
  /** dashboard file, panel id and title, target refId */
  where: string;
  /** the target's expr as written, variables not filled in */
  expr: string;
  instant: boolean;
}

export function loadDashboards(): [string, GrafanaDashboard][] {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as GrafanaDashboard]);
}

/** `label_values(metric, label)` of a query variable, the only kind these dashboards use. */
export function labelValuesQuery(v: GrafanaVariable): { metric: string; label: string } {
  const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
  const m = /^label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*([a-zA-Z_]\w*)\s*\)$/.exec(text.trim());
  if (!m) throw new Error(`variable ${v.name}: not a label_values(metric, label) query: ${text}`);
  return { metric: m[1] as string, label: m[2] as string };
}

/**
 * The value Grafana substitutes for a variable on a freshly opened dashboard: "All" (its `allValue`) when the
 * variable offers it, else its first value, regex-escaped as Grafana does for Prometheus.
 */
export function selected(v: GrafanaVariable, values: string[]): string {
  if (v.includeAll) return v.allValue ?? `(${values.map(escapeRegex).join('|')})`;
  if (values[0] === undefined) throw new Error(`variable ${v.name} has no value`);
  return escapeRegex(values[0]);
}

const escapeRegex = (s: string) => s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');

export interface Interval {
  /** Step of the range query, Grafana's $__interval, in seconds. */
  stepSeconds: number;
  /** The data source's scrape interval (Grafana's "Scrape interval" setting), in seconds. */
  scrapeSeconds: number;
  /** Length of the dashboard's time range, in seconds. */
  rangeSeconds: number;
}

/** Fills in template variables (`$x`, `${x}`, `[[x]]`) and Grafana's interval variables. */
export function expand(expr: string, vars: Record<string, string>, i: Interval): string {
  const builtins: Record<string, string> = {
    // Grafana: max($__interval + scrape interval, 4 × scrape interval).
    __rate_interval: `${Math.max(i.stepSeconds + i.scrapeSeconds, 4 * i.scrapeSeconds)}s`,
    __interval: `${i.stepSeconds}s`,
    __interval_ms: String(i.stepSeconds * 1000),
    __range: `${Math.round(i.rangeSeconds)}s`,
    __range_s: String(Math.round(i.rangeSeconds)),
    __range_ms: String(Math.round(i.rangeSeconds * 1000)),
  };
  const all = { ...builtins, ...vars };
  return expr.replace(/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a, b, c) => {
    const name = (a ?? b ?? c) as string;
    const value = all[name];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
}

/** Every target of every panel, with the instant/range choice Grafana makes for it. */
export function panelQueries(file: string, d: GrafanaDashboard): PanelQuery[] {
  return d.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      where: `${file} #${p.id} "${p.title}" ${t.refId}`,
      expr: t.expr,
      instant: t.instant === true && t.range !== true,
    })),
  );
}
