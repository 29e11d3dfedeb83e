import { nativeAddon } from '../src/native/addon.ts';
const a = nativeAddon()!;
const run = (m: number, n: number, k: number, ta = false, tb = false) => {
  const A = new Float32Array(m * k).map(() => Math.random() - 0.5), B = new Float32Array(k * n).map(() => Math.random() - 0.5), C = new Float32Array(m * n);
  for (let i = 0; i < 3; i++) a.sgemm(m, n, k, A, ta, B, tb, C, false);
  let best = 1e9;
  for (let r = 0; r < 5; r++) { const t0 = performance.now(); for (let i = 0; i < 5; i++) a.sgemm(m, n, k, A, ta, B, tb, C, false); best = Math.min(best, (performance.now() - t0) / 5); }
  return (2 * m * n * k / best / 1e6).toFixed(0);
};
const th = Number(process.argv[2] ?? 2); a.setThreads(th);
console.log('threads', th);
for (const k of [256, 384, 512, 768, 1024]) console.log(`m1024 n256 k${k}: ${run(1024, 256, k)}  | m1024 n${k} k256: ${run(1024, k, 256)}`);
