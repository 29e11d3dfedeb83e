#!/usr/bin/env node
// The `bitnet` executable. Every command runs from dist/cli.mjs, a bundle esbuild builds from src/ (at
// install, and again here whenever a source file is newer): plain JavaScript, no tsx loader thread or
// on-the-fly compilation, ~40 MB (engine) to ~90 MB (training) less RSS and a faster start; a study's
// runs fork dist/worker.mjs the same way. If the bundle cannot be built (esbuild missing or failing)
// the TypeScript CLI runs through tsx's loaders, so the package needs no build step after `npm ci`.
// Both tsx hooks are registered: tfjs-core's gradient registrations exist only as ESM-syntax files in
// a CommonJS package, which tsx's CommonJS hook loads (see src/train/gradients.ts; the bundle imports
// them statically instead). BITNET_NO_BUNDLE=1 forces tsx.

async function bundle() {
  if (process.env.BITNET_NO_BUNDLE === '1') return null;
  try {
    const { bundleIsFresh, bundlePath, buildBundle } = await import('../scripts/build-bundle.mjs');
    return bundleIsFresh() ? bundlePath : await buildBundle();
  } catch {
    return null;
  }
}

const cli = await bundle();
if (cli !== null) {
  const { pathToFileURL } = await import('node:url');
  await import(pathToFileURL(cli).href);
} else {
  const { register: registerEsm } = await import('tsx/esm/api');
  const { register: registerCjs } = await import('tsx/cjs/api');
  registerCjs();
  registerEsm();
  await import('../src/cli/main.ts');
}
