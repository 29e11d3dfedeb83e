// Builds dist/engine.mjs: the engine's commands (src/cli/engine-main.ts) bundled into one ES module
// by esbuild, npm packages left as imports. bin/bitnet.js runs it without tsx (whose loader thread
// costs ~40 MB of RSS) and calls this again whenever a source file is newer than the bundle; the
// npm install hook builds it once up front. Written to a temporary name and renamed, so a process
// never imports a half-written bundle.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');
export const bundlePath = path.join(outdir, 'engine.mjs');

/** The newest modification time (ms) of package.json and every file under src/. */
function newestSource() {
  let newest = statSync(path.join(root, 'package.json')).mtimeMs;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'src'));
  return newest;
}

/** True when dist/engine.mjs exists and no source is newer. */
export function bundleIsFresh() {
  return existsSync(bundlePath) && statSync(bundlePath).mtimeMs >= newestSource();
}

/**
 * Builds the bundle; returns its path. Throws when esbuild is missing or the build fails. Each command
 * is its own chunk (code splitting), loaded when run, so `bench` does not load `eval`'s data readers.
 * The build goes to a temporary directory; its chunks (named by content hash) are renamed into dist/
 * one by one and the entry last, so a process starting meanwhile sees the old bundle or the new one.
 * Chunks of older builds stay (a few hundred KB); `rm -rf dist` clears them.
 */
export async function buildEngineBundle() {
  const { build } = await import('esbuild');
  const tmp = `${outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  await build({
    entryPoints: { engine: path.join(root, 'src', 'cli', 'engine-main.ts') },
    outdir: tmp,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
  });
  mkdirSync(outdir, { recursive: true });
  for (const f of readdirSync(tmp)) if (f !== 'engine.mjs') renameSync(path.join(tmp, f), path.join(outdir, f));
  renameSync(path.join(tmp, 'engine.mjs'), bundlePath);
  rmSync(tmp, { recursive: true, force: true });
  return bundlePath;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildEngineBundle();
    console.log(`built ${path.relative(process.cwd(), bundlePath)}`);
  } catch (e) {
    // never fail the install: bin/bitnet.js falls back to tsx
    console.warn(`bitnet-ts: the engine bundle was not built (${e instanceof Error ? e.message : e}); the CLI runs through tsx`);
  }
}
