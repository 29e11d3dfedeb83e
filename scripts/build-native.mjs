// `npm install` hook: build the optional N-API addon with node-gyp against this Node's own headers.
// A failed build must not fail the install: the engine and training fall back to TypeScript/wasm,
// and `bitnet info` reports the addon as missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

if (process.env.BITNET_SKIP_NATIVE === '1') {
  console.log('bitnet-ts: BITNET_SKIP_NATIVE=1, native addon not built');
  process.exit(0);
}
if (!existsSync('native/binding.gyp')) process.exit(0);

// npm ships node-gyp; prefer the copy npm points at, then any resolvable one.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  }
}
// Local headers: the Node install prefix (has include/node). Nothing is downloaded.
const nodedir = path.resolve(process.execPath, '../..');
const args = [gyp, 'rebuild', '--directory=native', `--nodedir=${nodedir}`, '--jobs=max'];
const r = existsSync(gyp) ? spawnSync(process.execPath, args, { stdio: 'inherit' }) : { status: 1 };
if (r.status !== 0) {
  console.warn('bitnet-ts: native addon build failed; the engine will use its TypeScript kernels (see `bitnet info`)');
}
process.exit(0);
