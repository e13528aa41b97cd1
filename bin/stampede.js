#!/usr/bin/env node
// The `stampede` command: runs the built CLI, building it first on a fresh checkout.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const main = `${root}dist/services/cli/main.js`;
if (!existsSync(main)) execFileSync(process.execPath, [`${root}scripts/build.mjs`], { stdio: 'inherit' });
await import(main);
