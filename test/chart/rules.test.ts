// The chart's alerts checked by Prometheus' own promtool (Debian's prometheus package, which .ci/run
// installs): the rules of the rendered PrometheusRule parse (`promtool check rules`), and every alert is
// unit-tested (`promtool test rules` on test/chart/rules/alerts.test.yaml): it fires on the series that
// should page and stays quiet on a healthy sale.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { FULL_VALUES, ROOT, helmTemplate, run } from './helm.js';

const PROMTOOL = '/usr/bin/promtool';
const TESTS = join(ROOT, 'test/chart/rules/alerts.test.yaml');

interface RuleGroups {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}
interface AlertCase {
  eval_time: string;
  alertname: string;
  exp_alerts: unknown[];
}
interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: AlertCase[] }[];
}

let dir: string;
let groups: RuleGroups;

beforeAll(async () => {
  const rendered = await helmTemplate('-f', FULL_VALUES, '--show-only', 'templates/prometheusrule.yaml');
  const rule = parse(rendered) as { kind: string; spec: RuleGroups };
  expect(rule.kind).toBe('PrometheusRule');
  groups = rule.spec;
  dir = mkdtempSync(join(tmpdir(), 'rules-'));
  writeFileSync(join(dir, 'stampede-rules.yaml'), stringify(groups));
  copyFileSync(TESTS, join(dir, 'alerts.test.yaml'));
}, 60_000);

const alertNames = (): string[] =>
  groups.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));

it('promtool check rules accepts every rule the chart ships', async () => {
  const { stdout } = await run(PROMTOOL, ['check', 'rules', join(dir, 'stampede-rules.yaml')]);
  const count = groups.groups.reduce((n, g) => n + g.rules.length, 0);
  expect(count).toBeGreaterThanOrEqual(5);
  expect(stdout).toContain(`SUCCESS: ${count} rules found`);
});

it('unit-tests every alert: it fires on what should page and stays quiet on a healthy sale', () => {
  const tests = parse(readFileSync(TESTS, 'utf8')) as UnitTests;
  expect(tests.rule_files).toEqual(['stampede-rules.yaml']);
  const cases = tests.tests.flatMap((t) => (t.alert_rule_test ?? []).map((c) => ({ test: t.name, ...c })));
  for (const alert of alertNames()) {
    const mine = cases.filter((c) => c.alertname === alert);
    expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
    expect({
      alert,
      quietOnHealthySale: mine.some((c) => c.test === 'healthy sale' && c.exp_alerts.length === 0),
    }).toEqual({ alert, quietOnHealthySale: true });
  }
  // No case names an alert the chart does not ship: it would pass without testing anything.
  for (const c of cases) expect(alertNames()).toContain(c.alertname);
});

it('promtool test rules passes', async () => {
  const { stdout, stderr } = await run(PROMTOOL, ['test', 'rules', 'alerts.test.yaml'], { cwd: dir }).catch(
    (err: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool test rules failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
  expect(`${stdout}${stderr}`).toMatch(/SUCCESS/);
}, 60_000);
