import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../proc.js';
import { sh } from './sh.js';

/** The sandbox image kubelet 1.33 asks for; the name is what matters, the registry is never contacted. */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
const SOURCE = join(repoRoot(), 'rehearsal/node/pause.c');
/** The same cache folder as scripts/tools.sh's built tools (kept across fresh clones on one machine). */
export const CACHE = join(homedir(), '.cache/stampede-tools');

/**
 * A docker-archive of the pause image: a static C program committed from scratch with buildah, cached by
 * its source's hash (gcc and buildah take under a second, but the cache also spares a throwaway store).
 */
export async function pauseArchive(): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const archive = join(CACHE, `pause-${hash}.tar`);
  if (existsSync(archive)) return archive;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'stampede-pause-'));
  // vfs: a store of one 700 KB layer needs no overlay mount (nothing to unmount on failure).
  const store = ['--root', join(work, 'root'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
  try {
    await sh('gcc', ['-static', '-Os', '-s', '-o', join(work, 'pause'), SOURCE]);
    const ctr = (await sh('buildah', [...store, 'from', 'scratch'])).trim();
    await sh('buildah', [...store, 'copy', ctr, join(work, 'pause'), '/pause']);
    await sh('buildah', [...store, 'config', '--entrypoint', '["/pause"]', '--user', '65535:65535', ctr]);
    await sh('buildah', [...store, 'commit', '-q', ctr, PAUSE_IMAGE]);
    await sh('buildah', [
      ...store,
      'push',
      '-q',
      PAUSE_IMAGE,
      `docker-archive:${archive}.tmp:${PAUSE_IMAGE}`,
    ]);
    renameSync(`${archive}.tmp`, archive);
    return archive;
  } finally {
    await sh('buildah', [...store, 'rm', '--all']).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}
