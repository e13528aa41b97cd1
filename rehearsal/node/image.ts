import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../proc.js';
import { sh } from './sh.js';

/** The chart's values for the real node (on top of the rehearsal values). */
export const REAL_NODE_VALUES = join(repoRoot(), 'charts/stampede/ci/real-node-values.yaml');

/**
 * A docker-archive of stampede:<version> and stampede:rehearsal at `path`, by `npm run image` (buildah,
 * no Docker engine; an unchanged tree reuses every cached layer, so a warm build is mostly the export).
 */
export async function stampedeArchive(path: string): Promise<string> {
  const script = join(repoRoot(), 'scripts/image.sh');
  if (!existsSync(script)) throw new Error(`${script} is missing: the real node needs the Stampede image`);
  await sh('bash', [script, '--docker-archive', path], { timeoutMs: 30 * 60_000 });
  return path;
}
