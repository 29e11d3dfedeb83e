#!/usr/bin/env node
// The `bitnet` executable. The engine's commands (inspect, generate, chat, eval, bench, synth) run from
// dist/engine.mjs, a bundle esbuild builds from src/ (at install, and again here whenever a source
// file is newer): plain JavaScript, no loader thread, ~40 MB less RSS and a faster start. Everything
// else (and --help, and any failure to build) runs the TypeScript CLI through tsx's loaders, so the
// package needs no build step after `npm ci`. Both tsx hooks are registered: tfjs-core's gradient
// registrations exist only as ESM-syntax files in a CommonJS package, which tsx's CommonJS hook loads
// (see src/train/gradients.ts). BITNET_NO_BUNDLE=1 forces tsx.
const ENGINE_COMMANDS = new Set(['inspect', 'generate', 'chat', 'eval', 'bench', 'synth']);
const args = process.argv.slice(2);
const command = args.find((a) => !a.startsWith('-'));

async function engineBundle() {
  if (!ENGINE_COMMANDS.has(command) || args.includes('--help') || process.env.BITNET_NO_BUNDLE === '1') return null;
  try {
    const { bundleIsFresh, bundlePath, buildEngineBundle } = await import('../scripts/build-engine.mjs');
    return bundleIsFresh() ? bundlePath : await buildEngineBundle();
  } catch {
    return null;
  }
}

const bundle = await engineBundle();
if (bundle !== null) {
  const { pathToFileURL } = await import('node:url');
  await import(pathToFileURL(bundle).href);
} else {
  const { register: registerEsm } = await import('tsx/esm/api');
  const { register: registerCjs } = await import('tsx/cjs/api');
  registerCjs();
  registerEsm();
  await import('../src/cli/main.ts');
}
