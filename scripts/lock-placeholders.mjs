// npm 11.16+ leaves out of package-lock.json the optional platform packages that the registry cannot
// serve (here: most @unrs/resolver-binding-* builds), and then `npm ci` refuses that same lockfile as
// out of sync. This adds an inert, never-installable entry (os: ["none"]) for each such optional
// dependency, as npm 11.13 did. Run it after any `npm install` that changes the lockfile.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
let added = 0;
for (const [key, pkg] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const base = key === '' ? 'node_modules/' : `${key}/node_modules/`;
    const present = lock.packages[`${base}${name}`] ?? lock.packages[`node_modules/${name}`];
    // A placeholder written with the range as its version (earlier versions of this script) is mended.
    if (present && !(present.os?.[0] === 'none' && /^[\^~>=]/.test(String(present.version)))) continue;
    // The entry needs a version that satisfies the range (`npm ci` refuses a range as a version).
    const exact = String(version)
      .replace(/^[\^~>=v\s]+/, '')
      .split(/[\s|]/)[0];
    lock.packages[`node_modules/${name}`] = { version: exact, optional: true, os: ['none'] };
    added++;
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-placeholders: ${added} inert optional entries added`);
