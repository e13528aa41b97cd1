// Compiles TypeScript to dist/ and copies the assets tsc does not (Lua scripts, JSON, YAML under services/
// and operator/), keeping their relative paths so `new URL('./lua/x.lua', import.meta.url)` resolves.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const assets = /\.(lua|json|ya?ml|sql)$/;

rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (assets.test(name)) cpSync(path, join(root, 'dist', relative(root, path)));
  }
}
for (const top of ['services', 'operator']) {
  try {
    copyAssets(join(root, top));
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
}

// The storefront (web/, served by the api at `/`): typechecked, then bundled by Vite into dist/web with
// content-hashed asset names (the api caches those for a year and never index.html).
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'web/tsconfig.json')], {
  stdio: 'inherit',
});
const { build } = await import('vite');
await build({
  root: join(root, 'web'),
  configFile: false,
  logLevel: 'warn',
  build: { outDir: join(root, 'dist/web'), emptyOutDir: true, manifest: true, target: 'es2022' },
});

// `npm start` compares this stamp with the sources' times and rebuilds a stale dist/.
writeFileSync(join(root, 'dist', '.build-stamp'), `${new Date().toISOString()}\n`);
