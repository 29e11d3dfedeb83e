// Where a generated token's time goes in our engine: `npx tsx bench/profile-tg.ts FILE [threads] [tokens]`.
// Runs tg (one token at a time, greedy, from an empty cache) with every kernel call timed by category:
// the ternary linears (q/k/v, o, gate/up, down), the F16 head, activation quantization; the rest of
// the forward pass (attention, RoPE, norms, SiLU, residuals, embedding: plain TypeScript) is the
// difference to the token's wall time. Prints ms per token, share, and GB/s of the weight reads.
import { performance } from 'node:perf_hooks';
import { openGGUF } from '../src/format/index.ts';
import { nativeKernels, type Kernels } from '../src/infer/kernels/index.ts';
import { Model } from '../src/infer/model.ts';
import { readWeights } from '../src/infer/weights.ts';
import { nativeAddon } from '../src/native.ts';

const [file, thrArg, tokArg] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/profile-tg.ts FILE [threads] [tokens]');
const threads = Number(thrArg ?? 1);
const tokens = Number(tokArg ?? 64);
const native = nativeKernels();
if (!native) throw new Error('native addon not loaded');
nativeAddon()!.setThreads(threads);
const f = openGGUF(file);
const weights = readWeights(f);
f.close();
const hp = weights.hp;

const time: Record<string, number> = {};
const bytes: Record<string, number> = {};
const calls: Record<string, number> = {};
let on = false;
const add = (k: string, ms: number, b: number) => {
  if (!on) return;
  time[k] = (time[k] ?? 0) + ms;
  bytes[k] = (bytes[k] ?? 0) + b;
  calls[k] = (calls[k] ?? 0) + 1;
};
const rowsName = (rows: number, cols: number) =>
  rows === hp.ff ? 'ternary gate+up' : cols === hp.ff ? 'ternary down' : rows === hp.d && cols === hp.d ? 'ternary q+o' : 'ternary k+v';
const kernels: Kernels = {
  ...native,
  ternaryMatmulScaled: (packed, rows, cols, xq, sx, n, scale, g, y) => {
    const t = performance.now();
    native.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, g, y);
    add(rowsName(rows, cols), performance.now() - t, packed.byteLength);
  },
  matmulF16: (x, n, cols, w, rows, y) => {
    const t = performance.now();
    native.matmulF16(x, n, cols, w, rows, y);
    add('head (F16 matmul)', performance.now() - t, w.byteLength);
  },
  quantizeActivations: (x, n, cols, xq, sx) => {
    const t = performance.now();
    native.quantizeActivations(x, n, cols, xq, sx);
    add('quantize activations', performance.now() - t, 0);
  },
};
const model = new Model(weights, { kernels, maxSeq: tokens + 8, maxBatch: 8 });
const argmax = (x: Float32Array) => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
};
const one = new Int32Array(1);
const run = (n: number) => {
  model.reset();
  one[0] = 1;
  const t = performance.now();
  for (let i = 0; i < n; i++) one[0] = argmax(model.forward(one));
  return performance.now() - t;
};
run(8); // warm-up
on = true;
const wall = run(tokens);
on = false;
const per = (ms: number) => ms / tokens;
console.log(`${file}: d${hp.d} L${hp.layers} ff${hp.ff} vocab ${hp.vocab}, ${threads} thread(s), ${tokens} tokens: ${per(wall).toFixed(3)} ms/token (${((1000 * tokens) / wall).toFixed(1)} t/s)`);
let kernelMs = 0;
for (const k of Object.keys(time).sort((a, b) => time[b]! - time[a]!)) {
  kernelMs += time[k]!;
  const gbs = bytes[k]! ? bytes[k]! / (time[k]! / 1000) / 1e9 : NaN;
  console.log(`  ${k.padEnd(22)} ${per(time[k]!).toFixed(3).padStart(8)} ms  ${((100 * time[k]!) / wall).toFixed(1).padStart(5)}%  ${(calls[k]! / tokens).toFixed(0).padStart(4)} calls/token${Number.isNaN(gbs) ? '' : `  ${gbs.toFixed(1)} GB/s`}`);
}
console.log(`  ${'rest (TS: attention, RoPE, norms, SiLU, ...)'.padEnd(22)} ${per(wall - kernelMs).toFixed(3)} ms  ${((100 * (wall - kernelMs)) / wall).toFixed(1)}%`);
