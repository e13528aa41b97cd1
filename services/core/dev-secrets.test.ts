// The secrets `npm start` generates for a checkout (issue 20 point 11): made once with mode 0600, reused
// as they are, completed when a name is missing, and the ones `stampede sale` signs with when JWT_SECRET
// is unset; the development defaults printed in the source are never among them.
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEV_JWT_SECRET } from './config.js';
import { DEV_SECRET_NAMES, devSecretsPath, ensureDevSecrets, readDevSecrets } from './dev-secrets.js';
import { DEV_WEBHOOK_SECRET } from '../api/config.js';
import { loadSaleConfig } from '../cli/config.js';

const fileIn = (): string => devSecretsPath(mkdtempSync(join(tmpdir(), 'dev-secrets-')));
const mode = (path: string): number => statSync(path).mode & 0o777;

it('names every secret that has a development default, and lives in the gitignored .stampede/', () => {
  expect([...DEV_SECRET_NAMES]).toEqual(['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET']);
  expect(devSecretsPath('/checkout')).toBe('/checkout/.stampede/secrets.json');
  expect(readFileSync(new URL('../../.gitignore', import.meta.url), 'utf8').split('\n')).toContain(
    '.stampede/',
  );
});

it('creates the file once, mode 0600 in a 0700 directory, with random secrets that are not the defaults', () => {
  const path = fileIn();
  expect(readDevSecrets(path)).toBeNull();
  const first = ensureDevSecrets(path);
  expect(mode(path)).toBe(0o600);
  expect(mode(join(path, '..'))).toBe(0o700);
  expect(first.JWT_SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(first.PAYMENT_WEBHOOK_SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(first.JWT_SECRET).not.toBe(first.PAYMENT_WEBHOOK_SECRET);
  expect([first.JWT_SECRET, first.PAYMENT_WEBHOOK_SECRET]).not.toContain(DEV_JWT_SECRET);
  expect([first.JWT_SECRET, first.PAYMENT_WEBHOOK_SECRET]).not.toContain(DEV_WEBHOOK_SECRET);
  expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(first);

  const before = statSync(path);
  expect(ensureDevSecrets(path)).toEqual(first);
  const after = statSync(path);
  expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  // Another checkout gets its own.
  expect(ensureDevSecrets(fileIn()).JWT_SECRET).not.toBe(first.JWT_SECRET);
});

it('keeps the secrets a file has, adds a missing one and tightens a loose mode', () => {
  const path = fileIn();
  const kept = 'k'.repeat(40);
  ensureDevSecrets(path);
  writeFileSync(path, JSON.stringify({ JWT_SECRET: kept }));
  chmodSync(path, 0o644);
  const completed = ensureDevSecrets(path);
  expect(completed.JWT_SECRET).toBe(kept);
  expect(completed.PAYMENT_WEBHOOK_SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(readDevSecrets(path)).toEqual(completed);
  expect(mode(path)).toBe(0o600);
  chmodSync(path, 0o640);
  expect(ensureDevSecrets(path)).toEqual(completed);
  expect(mode(path)).toBe(0o600);
});

it.each([
  ['not JSON', '{', /not JSON/],
  ['a short secret', JSON.stringify({ JWT_SECRET: 'short' }), /JWT_SECRET is not a string of 32\+/],
  ['not an object', '"x"', /not a JSON object/],
])('refuses a damaged file (%s), naming it and the fix', (_name, text, why) => {
  const path = fileIn();
  ensureDevSecrets(path);
  writeFileSync(path, text);
  expect(() => ensureDevSecrets(path)).toThrow(why);
  expect(() => readDevSecrets(path)).toThrow(`${path}: `);
  expect(() => readDevSecrets(path)).toThrow(/delete it/);
});

describe('stampede sale', () => {
  const env = { STAMPEDE_PREFIX: 'dev-secrets' };

  it('signs with the checkout file when JWT_SECRET is unset, with JWT_SECRET when set', () => {
    const path = fileIn();
    expect(loadSaleConfig(env, path).jwtSecret).toBe(DEV_JWT_SECRET);
    const { JWT_SECRET } = ensureDevSecrets(path);
    expect(loadSaleConfig(env, path).jwtSecret).toBe(JWT_SECRET);
    expect(loadSaleConfig({ ...env, JWT_SECRET: '' }, path).jwtSecret).toBe(JWT_SECRET);
    const own = 'o'.repeat(40);
    expect(loadSaleConfig({ ...env, JWT_SECRET: own }, path).jwtSecret).toBe(own);
  });

  it('names a damaged file; in production it never reads the file', () => {
    const path = fileIn();
    ensureDevSecrets(path);
    writeFileSync(path, '{');
    expect(() => loadSaleConfig(env, path)).toThrow(ConfigError);
    expect(() => loadSaleConfig(env, path)).toThrow(/JWT_SECRET: unset, and .*not JSON/);
    let problems: string[] = [];
    try {
      loadSaleConfig({ ...env, NODE_ENV: 'production' }, path);
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual(['JWT_SECRET: the development default is refused when NODE_ENV=production']);
  });
});
