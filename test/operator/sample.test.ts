// A sample that works today (issue 12 point 8), against a real kube-apiserver, Redis and Postgres: the
// manifest `npx stampede sample --starts-in` prints becomes a sale that is preheated and opens (the dated
// sample in k8s/samples is a real calendar sale, Ended once its day has passed).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { activityKeys } from '../../services/core/redis/keys.js';
import { operatorEnv, type OperatorEnv } from '../helpers/operator.js';

const run = promisify(execFile);
const BIN = new URL('../../bin/stampede.js', import.meta.url).pathname;
const MAIN = new URL('../../dist/services/cli/main.js', import.meta.url).pathname;
let oe: OperatorEnv;

interface Manifest {
  metadata: { name: string };
  spec: Record<string, unknown> & { window: { start: string; end: string } };
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  oe = await operatorEnv('sample');
}, 120_000);
afterAll(async () => {
  await oe?.stop();
});

it('prints a sale that opens --starts-in from now', async () => {
  const cluster = await oe.namespace('sample');
  await oe.operator(cluster.ns);
  const { stdout } = await run(process.execPath, [BIN, 'sample', '--starts-in', '3s', '--name', 'today']);
  const today = parse(stdout) as Manifest;
  expect(Date.parse(today.spec.window.start)).toBeGreaterThan(Date.now());
  await cluster.create(today.metadata.name, today.spec);
  await cluster.waitPhase('today', 'Ready');
  expect(await oe.redis.get(activityKeys(oe.prefix, 'today').stock)).toBe('100');
  await cluster.waitPhase('today', 'Live');
}, 60_000);
