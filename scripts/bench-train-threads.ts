/**
 * `npm run bench:train-threads`: how training's native kernels scale with threads, at tiny-b158's and
 * small-b158's shapes (8 x 128 tokens): the float matmuls of the backward and the head, the integer
 * BitLinear forward, the fused attention each way, the fused norm + activation quantization, the
 * gated activation's gradient and the cross-entropy. Each kernel is timed best-of-ROUNDS at 1, 2, 4, ...
 * threads up to the machine's cores (or --threads), on the addon directly (no tfjs), and printed with
 * its speedup over 1 thread. Prints the machine, the ISA, the commit and the command.
 *
 *   npm run bench:train-threads [-- --threads 1,2,4,8,16 --rounds 7]
 */
import os from 'node:os';
import { nativeAddon } from '../src/native/addon.ts';
import { Rng } from '../src/data/rng.ts';
import { commit, machine } from './bench-env.ts';

function usage(flag: string, problem: string): never {
  process.stderr.write(`bench:train-threads: ${flag}: ${problem}\n`);
  process.exit(2);
}
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] ?? '' : def;
};
const cores = os.availableParallelism();
const defaultThreads = [1, 2, 4, 8, 16, 32].filter((t) => t <= cores);
const threads = arg('threads', defaultThreads.join(',')).split(',').map(Number);
if (threads.some((t) => !Number.isInteger(t) || t < 1 || t > 256)) usage('--threads', `a comma-separated list of integers in [1, 256], got "${arg('threads', '')}"`);
const rounds = Number(arg('rounds', '7'));
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) usage('--rounds', `an integer in [1, 1000], got "${arg('rounds', '')}"`);
const addon = nativeAddon();
if (!addon) {
  process.stderr.write('bench:train-threads: the native addon is not built (npm ci builds it)\n');
  process.exit(1);
}
const a = addon;

const rng = new Rng(7);
const normal = (n: number, s = 1) => rng.fillNormal(new Float32Array(n), s);

interface Case {
  name: string;
  run: () => void;
}

/** The kernels of one training step at a model's shapes: N tokens, width d, FFN width ff, H heads, vocabulary V. */
function cases(N: number, d: number, ff: number, H: number, V: number, T: number): Case[] {
  const B = N / T;
  const hd = d / H;
  const out: Case[] = [];
  const gemm = (name: string, m: number, n: number, k: number, ta: boolean, tb: boolean) => {
    const A = normal(m * k);
    const Bm = normal(k * n);
    const C = new Float32Array(m * n);
    out.push({ name: `sgemm ${name} ${m}x${n}x${k}`, run: () => a.sgemm(m, n, k, A, ta, Bm, tb, C) });
  };
  gemm('dX (ffn_down)', N, ff, d, false, false);
  gemm('dW (ffn_down)', d, ff, N, true, false);
  gemm('head fwd', N, V, d, false, true);
  // the integer BitLinear forward on fake-quant operands (gate: [N, d] -> [N, ff])
  const x = normal(N * d, 1.5);
  const xq = new Float32Array(N * d);
  const sx = new Float32Array(N);
  a.actFakeQuant(x, N, d, Float32Array.of(127, -128, 127, 1e-5), xq);
  a.actScales(x, N, d, 127, 1e-5, sx);
  const w = normal(ff * d, 0.02);
  const wq = new Float32Array(ff * d);
  a.weightFakeQuant(w, ff * d, false, 1e-5, wq);
  const beta = new Float32Array(1);
  a.weightScales(w, ff * d, beta);
  const y = new Float32Array(N * ff);
  out.push({ name: `bitLinear ${N}x${d} -> ${ff}`, run: () => a.bitLinearForward(xq, sx, N, d, wq, ff, beta, 0, y) });
  // attention, token-major
  const q = normal(N * d);
  const k = normal(N * d);
  const v = normal(N * d);
  const o = new Float32Array(N * d);
  const lse = new Float32Array(B * H * T);
  const dq = new Float32Array(N * d);
  const dk = new Float32Array(N * d);
  const dv = new Float32Array(N * d);
  const scale = 1 / Math.sqrt(hd);
  a.attentionTrain(q, k, v, B, H, H, T, hd, scale, o, lse);
  out.push({ name: `attention fwd B${B} H${H} T${T} hd${hd}`, run: () => a.attentionTrain(q, k, v, B, H, H, T, hd, scale, o, lse) });
  out.push({ name: `attention bwd B${B} H${H} T${T} hd${hd}`, run: () => a.attentionTrainGrad(q, k, v, o, lse, q, B, H, H, T, hd, scale, dq, dk, dv) });
  // norm + activation quantization, the gated activation's gradient, the cross-entropy
  const nw = normal(d);
  const r = new Float32Array(N);
  out.push({ name: `rmsNormActQuant ${N}x${d}`, run: () => a.rmsNormActQuant(x, nw, N, d, 1e-5, Float32Array.of(127, -128, 127, 1e-5), xq, sx, r) });
  const g = normal(N * ff);
  const u = normal(N * ff);
  const dg = new Float32Array(N * ff);
  const du = new Float32Array(N * ff);
  out.push({ name: `gluTrainGrad ${N}x${ff}`, run: () => a.gluTrainGrad(g, u, g, true, dg, du) });
  const logits = normal(N * V, 2);
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 131) % V);
  const loss = new Float32Array(N);
  const grad = new Float32Array(N * V);
  out.push({ name: `softmaxXent ${N}x${V}`, run: () => a.softmaxXent(logits, N, V, targets, loss, grad) });
  return out;
}

function best(run: () => void): number {
  run(); // warm-up: first-touch pages, scratch buffers, the pool's threads
  let ms = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    run();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

console.log(`bench:train-threads — ${machine()}, commit ${commit()}, ISA ${a.isa()}`);
console.log(`command: npm run bench:train-threads -- --threads ${threads.join(',')} --rounds ${rounds}; best of ${rounds} per cell, ms (speedup over 1 thread)`);
const shapes = [
  { config: 'tiny-b158', N: 1024, d: 256, ff: 512, H: 4, V: 4096, T: 128 },
  { config: 'small-b158', N: 1024, d: 512, ff: 1536, H: 8, V: 4096, T: 128 },
];
for (const s of shapes) {
  console.log(`\n${s.config} (8 x 128 tokens)\n`);
  console.log(`| kernel | ${threads.map((t) => `${t} thr`).join(' | ')} |`);
  console.log(`|---|${threads.map(() => '--:').join('|')}|`);
  for (const c of cases(s.N, s.d, s.ff, s.H, s.V, s.T)) {
    const ms = threads.map((t) => {
      a.setThreads(t);
      return best(c.run);
    });
    console.log(`| ${c.name} | ${ms.map((m) => `${m.toFixed(2)} (${(ms[0]! / m).toFixed(2)}x)`).join(' | ')} |`);
  }
}
a.setThreads(cores);
