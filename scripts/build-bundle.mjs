// Builds dist/cli.mjs (every `bitnet` command, src/cli/main.ts) and dist/worker.mjs (a study run's
// process, src/ablate/worker.ts): src/ bundled by esbuild into ES modules, npm packages left as
// imports (yargs and its dependencies excepted: INLINE below). bin/bitnet.js runs them without tsx,
// whose loader thread and on-the-fly compilation cost ~40 MB (engine) to ~90 MB (training) of RSS and
// a slower start; it calls this again whenever a source file is newer than the bundle; the npm install
// hook builds it once up front. Written to a temporary
// directory and renamed, so a process never imports a half-written bundle.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist');
export const bundlePath = path.join(outdir, 'cli.mjs');
const ENTRIES = { cli: path.join(root, 'src', 'cli', 'main.ts'), worker: path.join(root, 'src', 'ablate', 'worker.ts') };

/** The newest modification time (ms) of package.json, this script and every file under src/. */
function newestSource() {
  let newest = Math.max(statSync(path.join(root, 'package.json')).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      // Concatenation, not path.join: ~150 calls get path.join optimized by TurboFan, whose memory
      // stays resident. Measured (2-core Zen 4, Node 20): `bitnet --version` peaks at 49 instead of
      // 53 MB; `bitnet bench`'s peak is unchanged (the engine's own optimized code reuses it).
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'src'));
  return newest;
}

/** True when dist/cli.mjs and dist/worker.mjs exist and no source is newer. */
export function bundleIsFresh() {
  const worker = path.join(outdir, 'worker.mjs');
  return existsSync(bundlePath) && existsSync(worker) && Math.min(statSync(bundlePath).mtimeMs, statSync(worker).mtimeMs) >= newestSource();
}

/**
 * tfjs-core's gradient functions ship only as ESM-syntax files inside a CommonJS package, so
 * src/train/gradients.ts loads them through tsx's CommonJS hook, which a plain-JS bundle does not
 * have. Here that module becomes a static import of the file, and esbuild bundles it with the
 * tfjs-core sources it imports (they register into tfjs's global registry, as under tsx).
 */
const tfjsGradients = {
  name: 'tfjs-gradients',
  setup(b) {
    const file = createRequire(path.join(root, 'package.json')).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    b.onLoad({ filter: /[\\/]src[\\/]train[\\/]gradients\.ts$/ }, () => ({ contents: `import ${JSON.stringify(file)};`, loader: 'js', resolveDir: root }));
  },
};

/**
 * The npm packages bundled into dist/ rather than imported: yargs and what it imports, on every
 * command's start-up path. They mix ES modules and CommonJS files, and every CommonJS file imported
 * from an ES module goes through Node's CommonJS export lexer; bundled, they are one module. Measured
 * (2-core Zen 3, beside a study): `bitnet --version` peaks at 49.5 instead of 57.3 MB and starts in
 * 0.21-0.35 instead of 0.37-0.46 s; an engine run reuses most of that freed heap, so `bitnet bench`
 * peaks only 1-2 MB lower (125m 160 -> 159 MB, 2b4t 1317 -> 1315 MB).
 * Every other package stays an import (tfjs, arrow and the rest load only with the commands that use them).
 */
const INLINE = /^(yargs|yargs-parser|cliui|y18n|escalade|get-caller-file|string-width|strip-ansi|wrap-ansi|ansi-regex|ansi-styles|emoji-regex|get-east-asian-width)(\/|$)/;
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) => (INLINE.test(a.path) ? undefined : { path: a.path, external: true }));
  },
};

/**
 * Builds the bundle; returns the path of dist/cli.mjs. Throws when esbuild is missing or the build
 * fails. Each command is its own chunk (code splitting), loaded when run, so `bench` loads neither
 * tfjs nor arrow. The build goes to a temporary directory; its chunks (named by content hash) are
 * renamed into dist/ one by one and the entries last, so a process starting meanwhile sees the old
 * bundle or the new one. Chunks of older builds stay (a few hundred KB); `rm -rf dist` clears them.
 */
export async function buildBundle() {
  const { build } = await import('esbuild');
  const tmp = `${outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  await build({
    entryPoints: ENTRIES,
    outdir: tmp,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
    plugins: [externalPackages, tfjsGradients],
  });
  mkdirSync(outdir, { recursive: true });
  const entries = Object.keys(ENTRIES).map((e) => `${e}.mjs`);
  for (const f of readdirSync(tmp)) if (!entries.includes(f)) renameSync(path.join(tmp, f), path.join(outdir, f));
  for (const f of entries) renameSync(path.join(tmp, f), path.join(outdir, f));
  rmSync(tmp, { recursive: true, force: true });
  return bundlePath;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildBundle();
    console.log(`built ${path.relative(process.cwd(), bundlePath)} and dist/worker.mjs`);
  } catch (e) {
    // never fail the install: bin/bitnet.js falls back to tsx
    console.warn(`bitnet-ts: the CLI bundle was not built (${e instanceof Error ? e.message : e}); the CLI runs through tsx`);
  }
}
