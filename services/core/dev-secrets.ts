/**
 * The secrets `npm start` uses when the caller sets none (issue 20 point 11): random ones, generated once
 * per checkout into `.stampede/secrets.json` (gitignored, mode 0600), never the development defaults
 * printed in the source, which anyone can read and sign tokens with. `stampede sale` reads the same file
 * (services/cli/config.ts), so it signs its shoppers' tokens with the key the platform verifies.
 * Reading the environment stays with the config.ts files: this module only knows the file.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Every variable that has a development default in a config.ts, i.e. every one `npm start` fills. */
export const DEV_SECRET_NAMES = ['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET'] as const;
export type DevSecretName = (typeof DEV_SECRET_NAMES)[number];
export type DevSecrets = Record<DevSecretName, string>;

/** The checkout (or installed package) root: the nearest directory above this module with a package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

export const devSecretsPath = (root: string = packageRoot()): string =>
  join(root, '.stampede', 'secrets.json');

const fresh = (): string => randomBytes(32).toString('base64url');

/** The file's secrets, or null when there is no file; a damaged file throws, naming the fix. */
export function readDevSecrets(path: string): Partial<DevSecrets> | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const damaged = (why: string) => new Error(`${path}: ${why}; delete it and \`npm start\` makes a new one`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw damaged('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw damaged('not a JSON object');
  const out: Partial<DevSecrets> = {};
  for (const name of DEV_SECRET_NAMES) {
    const v = (parsed as Record<string, unknown>)[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length < 32) throw damaged(`${name} is not a string of 32+ characters`);
    out[name] = v;
  }
  return out;
}

function writePrivate(path: string, secrets: DevSecrets): string {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return tmp;
}

/**
 * The file's secrets, creating the file (or adding a missing name) first. Two starts racing both end with
 * the same secrets: the file appears whole by link(), which refuses to replace one another start made.
 */
export function ensureDevSecrets(path: string): DevSecrets {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const existing = readDevSecrets(path);
  if (existing !== null && DEV_SECRET_NAMES.every((n) => existing[n] !== undefined)) {
    // A file copied in or unpacked with a looser mode: secrets only for its owner.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return existing as DevSecrets;
  }
  const secrets = Object.fromEntries(
    DEV_SECRET_NAMES.map((n) => [n, existing?.[n] ?? fresh()]),
  ) as DevSecrets;
  const tmp = writePrivate(path, secrets);
  try {
    if (existing === null) linkSync(tmp, path);
    else renameSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return ensureDevSecrets(path);
  } finally {
    if (existsSync(tmp)) unlinkSync(tmp);
  }
  return secrets;
}
