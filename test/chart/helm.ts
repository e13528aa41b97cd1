// The helm binary `npm run tools` builds, and the chart rendered with it.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const ROOT = new URL('../../', import.meta.url).pathname;
export const HELM = join(ROOT, '.tools/bin/helm');
export const CHART = join(ROOT, 'charts/stampede');
export const FULL_VALUES = join(CHART, 'ci/full-values.yaml');

/** `helm template` of the chart as release `stampede` in namespace `stampede`; extra args are appended. */
export async function helmTemplate(...args: string[]): Promise<string> {
  const { stdout } = await run(HELM, ['template', 'stampede', CHART, '--namespace', 'stampede', ...args], {
    maxBuffer: 16 << 20,
  });
  return stdout;
}
