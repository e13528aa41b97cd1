// `npm start` rebuilds a dist/ that is missing or older than any source it was built from.
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { staleBuild } from '../../scripts/stale-build.mjs';

function tree(): { root: string; at: (path: string, secondsAgo: number) => void } {
  const root = mkdtempSync(join(tmpdir(), 'stale-'));
  const at = (path: string, secondsAgo: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), 'x');
    const t = Date.now() / 1000 - secondsAgo;
    utimesSync(join(root, path), t, t);
  };
  return { root, at };
}

describe('stale build', () => {
  it('builds when there is no build yet', () => {
    const { root, at } = tree();
    at('services/seckill/main.ts', 100);
    expect(staleBuild(root, {})).toBe('no build yet');
  });

  it('runs a build newer than every source', () => {
    const { root, at } = tree();
    at('services/seckill/main.ts', 100);
    at('services/core/redis/lua/purchase.lua', 90);
    at('tsconfig.json', 200);
    at('dist/.build-stamp', 10);
    expect(staleBuild(root, {})).toBeNull();
  });

  it.each([
    ['a TypeScript source', 'services/seckill/purchase.ts'],
    ['a Lua script', 'services/core/redis/lua/purchase.lua'],
    ['the operator', 'operator/reconciler.ts'],
    ['the lockfile', 'package-lock.json'],
  ])('rebuilds after %s changed', (_what, path) => {
    const { root, at } = tree();
    at('services/seckill/main.ts', 100);
    at('dist/.build-stamp', 50);
    at(path, 5);
    expect(staleBuild(root, {})).toBe('sources changed since the last build');
  });

  it('ignores tests, and obeys STAMPEDE_BUILD=1', () => {
    const { root, at } = tree();
    at('services/seckill/main.ts', 100);
    at('dist/.build-stamp', 50);
    at('services/seckill/routes.test.ts', 5);
    expect(staleBuild(root, {})).toBeNull();
    expect(staleBuild(root, { STAMPEDE_BUILD: '1' })).toBe('STAMPEDE_BUILD=1');
  });
});
