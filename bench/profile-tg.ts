// Where a generated token's time goes in our engine: `npx tsx bench/profile-tg.ts FILE [threads] [tokens]`.
// Runs tg (one token at a time, greedy, from an empty cache) with every kernel call timed by category:
// the ternary linears (q/o, k/v, gate/up, down), the F16 head, and every other kernel under its name
// (activation quantization, attention); the rest of the forward pass (RoPE, norms, SiLU, residuals,
// embedding, argmax: plain TypeScript) is the difference to the token's wall time. Prints ms per token, share, and GB/s of the weight reads.
import { performance } from 'node:perf_hooks';
import { openGGUF } from '../src/format/index.ts';
import { nativeKernels, type Kernels } from '../src/infer/kernels/index.ts';
import { Model } from '../src/infer/model.ts';
import { readWeights } from '../src/infer/weights.ts';
import { weightStore } from '../src/infer/store.ts';
import { nativeAddon } from '../src/native/addon.ts';

const [file, thrArg, tokArg] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/profile-tg.ts FILE [threads] [tokens]');
const threads = Number(thrArg ?? 1);
const tokens = Number(tokArg ?? 64);
const native = nativeKernels();
if (!native) throw new Error('native addon not loaded');
nativeAddon()!.setThreads(threads);
const f = openGGUF(file);
const store = weightStore();
const weights = readWeights(f, store);
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
  rows === 2 * hp.d_ff ? 'ternary gate|up (fused)' : rows === hp.d_model + 2 * hp.kv_dim && cols === hp.d_model ? 'ternary q|k|v (fused)' : rows === hp.d_ff ? 'ternary gate+up' : cols === hp.d_ff ? 'ternary down' : rows === hp.d_model && cols === hp.d_model ? 'ternary o (and q, k, v unfused)' : 'ternary k+v';
// every kernel timed under its name; the ternary linears split by shape, the head named
const kernels = { ...native } as Record<string, unknown>;
for (const [name, fn] of Object.entries(native)) {
  if (typeof fn !== 'function') continue;
  kernels[name] = (...a: unknown[]) => {
    const t = performance.now();
    (fn as (...b: unknown[]) => void)(...a);
    const ms = performance.now() - t;
    if (name === 'ternaryMatmulScaled') add(rowsName(a[1] as number, a[2] as number), ms, (a[0] as Uint8Array).byteLength);
    else if (name === 'matmulF16') add('head (F16 matmul)', ms, (a[3] as Uint16Array).byteLength);
    else add(name, ms, 0);
  };
}
const model = new Model(weights, { kernels: kernels as unknown as Kernels, maxSeq: tokens + 8, maxBatch: 8, store });
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
console.log(`${file}: d${hp.d_model} L${hp.n_layers} ff${hp.d_ff} vocab ${hp.vocab_size}, ${threads} thread(s), ${tokens} tokens: ${per(wall).toFixed(3)} ms/token (${((1000 * tokens) / wall).toFixed(1)} t/s)`);
let kernelMs = 0;
for (const k of Object.keys(time).sort((a, b) => time[b]! - time[a]!)) {
  kernelMs += time[k]!;
  const gbs = bytes[k]! ? bytes[k]! / (time[k]! / 1000) / 1e9 : NaN;
  console.log(`  ${k.padEnd(22)} ${per(time[k]!).toFixed(3).padStart(8)} ms  ${((100 * time[k]!) / wall).toFixed(1).padStart(5)}%  ${(calls[k]! / tokens).toFixed(0).padStart(4)} calls/token${Number.isNaN(gbs) ? '' : `  ${gbs.toFixed(1)} GB/s`}`);
}
console.log(`  ${'rest (TS: residual adds, embedding, argmax, call overhead)'.padEnd(22)} ${per(wall - kernelMs).toFixed(3)} ms  ${((100 * (wall - kernelMs)) / wall).toFixed(1)}%`);
