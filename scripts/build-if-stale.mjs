#!/usr/bin/env node
/**
 * `npm start`'s prestart: build only when dist/ is missing or older than a source it is built from, so a start takes a
 * second instead of a 20 s compile. Plain JavaScript: it runs before anything is compiled.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What the build reads: the TypeScript under these folders, and these files. */
const SOURCE_DIRS = ['src', 'bench', 'test'];
const SOURCE_FILES = ['tsconfig.json', 'tsconfig.sdk.json', 'package.json'];
/** Written by every build (tsc writes all outputs): its time is the build's. */
export const BUILT = 'dist/src/main.js';

function newestTs(dir, newest) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return newest;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = newestTs(p, newest);
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Why `root` needs a build (a sentence), or undefined when dist/ is up to date. */
export function staleReason(root) {
  let builtMs;
  try {
    builtMs = statSync(join(root, BUILT)).mtimeMs;
  } catch {
    return `${BUILT} is missing`;
  }
  let newest = 0;
  for (const d of SOURCE_DIRS) newest = newestTs(join(root, d), newest);
  for (const f of SOURCE_FILES) {
    try {
      newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
    } catch {
      // an optional file
    }
  }
  return newest > builtMs ? 'a source is newer than dist/' : undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(import.meta.url), '..', '..');
  const why = staleReason(root);
  if (why) {
    process.stderr.write(`building (${why}): about 20 s\n`);
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
}
