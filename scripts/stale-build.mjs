// Whether `npm start` must (re)build dist/ first: a stale build must never run silently.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const INPUT_DIRS = ['services', 'operator', 'bench', 'web'];
const INPUT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
const SOURCE = /\.(ts|lua|json|ya?ml|sql|css|html)$/;

/** Newest modification time of the files a build reads (sources, Lua, configs), in ms. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Why dist/ under `root` (ending in /) must be (re)built, or null when it is current. */
export function staleBuild(root, env) {
  const stamp = join(root, 'dist/.build-stamp');
  if (!existsSync(stamp)) return 'no build yet';
  if (env.STAMPEDE_BUILD === '1') return 'STAMPEDE_BUILD=1';
  const built = statSync(stamp).mtimeMs;
  const newest = Math.max(
    0,
    ...INPUT_DIRS.filter((d) => existsSync(join(root, d))).map((d) => newestSource(join(root, d))),
    ...INPUT_FILES.filter((f) => existsSync(join(root, f))).map((f) => statSync(join(root, f)).mtimeMs),
  );
  return newest > built ? 'sources changed since the last build' : null;
}
