// docker/compose.yaml is safe to run on a laptop that sits on a network: every published port is bound to
// loopback, and with NODE_ENV=production no secret has a well-known default (compose refuses to start
// until each one is set, `${VAR:?message}`).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface Service {
  ports?: string[];
  environment?: Record<string, string>;
}
const compose = parse(readFileSync(new URL('../docker/compose.yaml', import.meta.url), 'utf8'), {
  merge: true,
}) as { services: Record<string, Service> };
const services = Object.entries(compose.services);

const SECRET_NAME = /PASSWORD|PASS$|SECRET|TOKEN|KEY/;
/** Every way a value can carry a secret that is not a required variable. */
function weakSecrets(name: string, value: string): string[] {
  const found: string[] = [];
  for (const m of value.matchAll(/\$\{(\w+)(:?[-?])?([^}]*)\}/g))
    if (SECRET_NAME.test(m[1] as string) && m[2] !== ':?' && m[2] !== '?')
      found.push(`${name}: \${${m[1]}} has a default or may be empty`);
  const literal = value.replace(/\$\{[^}]*\}/g, '');
  if (SECRET_NAME.test(name) && literal === value) found.push(`${name}: a literal secret`);
  const url = /^\w+:\/\/[^:/@]+:([^@]+)@/.exec(value);
  if (url && !/^\$\{\w+:\?[^}]*\}$/.test(url[1] as string))
    found.push(`${name}: a literal password in a URL`);
  return found;
}

it('publishes every port on 127.0.0.1 only', () => {
  const published = services.flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p}`));
  expect(published.length).toBeGreaterThan(0);
  expect(published.filter((p) => !/^\S+ 127\.0\.0\.1:\d+:\d+$/.test(p))).toEqual([]);
});

it('runs in production mode with no well-known secret: each one must be set', () => {
  const app = services.filter(([, s]) => s.environment?.NODE_ENV === 'production');
  expect(app.map(([n]) => n).sort()).toEqual(['api', 'migrate', 'orders', 'seckill']);
  const weak = services.flatMap(([svc, s]) =>
    Object.entries(s.environment ?? {}).flatMap(([k, v]) =>
      weakSecrets(k, String(v)).map((w) => `${svc} ${w}`),
    ),
  );
  expect(weak).toEqual([]);
});
