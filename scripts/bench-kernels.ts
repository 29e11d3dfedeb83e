// Micro-benchmark of the engine's kernels: `npx tsx scripts/bench-kernels.ts [--quick] [--only ternary|head|sgemm]`.
// Ternary GEMV (n = 1) and GEMM (n = 128) at the FFN shapes of BitNet 125m / 700m / 2b4t, native with 1
// and 2 threads against the TS kernels, as time per call, GB/s of packed weights read and % of this
// machine's read bandwidth; "hot" reuses one matrix (cache-resident when it fits the L3), "cold" cycles
// through copies totalling more than 64 MB so every byte comes from DRAM. Then the float output head
// (matmulF16 / matmulF32, n = 1) in GB/s, and sgemm GFLOP/s.
import { nativeAddon } from '../src/native/addon.ts';
import { repackTernary, tsKernels } from '../src/infer/kernels/index.ts';
import { Rng } from '../src/data/rng.ts';

const quick = process.argv.includes('--quick');
// --only ternary|head|sgemm runs one section.
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const want = (section: string): boolean => only === undefined || only === section;
const addon = nativeAddon();
if (!addon) {
  console.error('native addon not loaded: build it with `node scripts/build-native.mjs`');
  process.exit(1);
}
const THREADS = [1, 2];
// The SIMD kernels this CPU can run (the scalar fallback is not benchmarked).
const ISAS = addon.isa() === 'avx512vnni' ? (['avx512vnni', 'avx2'] as const) : ([addon.isa()] as const);
// The roofline: this machine's read bandwidth, measured now (issue 6 measured 19.8 / 30.8 GB/s with 1 / 2
// threads on the project machine).
const BANDWIDTH: Record<number, number> = {};
{
  const buf = new Uint8Array(256 << 20).fill(1);
  for (const thr of THREADS) {
    addon.setThreads(thr);
    BANDWIDTH[thr] = addon.readBandwidth(buf, quick ? 3 : 8);
  }
}

/** Median seconds per call of fn, over repeated calls for about `budget` seconds (at least 3). */
function time(fn: (rep: number) => void, budget = quick ? 0.15 : 0.5): number {
  fn(0);
  const times: number[] = [];
  const start = performance.now();
  for (let rep = 1; times.length < 3 || (performance.now() - start) / 1000 < budget; rep++) {
    const t0 = performance.now();
    fn(rep);
    times.push((performance.now() - t0) / 1000);
    if (times.length >= 2000) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const rng = new Rng(1);
function ternaryMatrix(rows: number, cols: number): Uint8Array {
  const codes = new Int8Array(rows * cols);
  for (let i = 0; i < codes.length; i++) codes[i] = rng.int(3) - 1;
  return repackTernary(codes, rows, cols);
}

function fmt(x: number, d = 1): string {
  return x.toFixed(d).padStart(7);
}

const shapes: Array<[string, number, number]> = [
  ['125m', 2048, 768],
  ['700m', 4096, 1536],
  ['2b4t', 6912, 2560],
];

console.log(`cpu: ${JSON.stringify(addon.cpuFeatures())}`);
console.log(`read bandwidth (256 MB, best of reps): ${THREADS.map((t) => `${BANDWIDTH[t]!.toFixed(1)} GB/s with ${t} thread${t > 1 ? 's' : ''}`).join(', ')}`);
if (want('ternary')) {
  console.log('\nternary matmul (rows x cols = out x in; packed 2 bits/weight); GB/s = packed bytes / time');
  console.log('shape  rows x cols   n  engine      thr  cache   ms/call    GB/s  %bw   GOP/s');
  for (const [name, rows, cols] of shapes) {
    const packed = ternaryMatrix(rows, cols);
    const bytes = packed.length;
    const copies = Math.max(2, Math.ceil((64 << 20) / bytes));
    const cold = Array.from({ length: copies }, (_, i) => (i === 0 ? packed : packed.slice()));
    for (const n of [1, 128]) {
      const xq = new Int8Array(n * cols);
      for (let i = 0; i < xq.length; i++) xq[i] = rng.int(256) - 128;
      const out = new Int32Array(n * rows);
      const row = (engine: string, thr: number | string, cache: string, s: number, bw?: number) => {
        const gbs = bytes / s / 1e9;
        const pct = bw ? fmt((100 * gbs) / bw, 0) : '      -';
        console.log(
          `${name.padEnd(6)} ${`${rows}x${cols}`.padEnd(11)} ${String(n).padStart(3)}  ${engine.padEnd(10)} ${String(thr).padStart(3)}  ${cache.padEnd(5)} ${fmt(s * 1e3, 3)}  ${fmt(gbs)} ${pct}  ${fmt((2 * rows * cols * n) / s / 1e9)}`,
        );
      };
      for (const isa of ISAS)
        for (const thr of THREADS) {
          addon.setIsa(isa);
          addon.setThreads(thr);
          row(isa, thr, 'hot', time(() => addon.ternaryMatmul(packed, rows, cols, xq, n, out)), BANDWIDTH[thr]);
          if (n === 1) row(isa, thr, 'cold', time((rep) => addon.ternaryMatmul(cold[rep % copies]!, rows, cols, xq, n, out)), BANDWIDTH[thr]);
        }
      addon.setIsa('auto');
      if (n === 1 || name === '125m') row('ts', 1, 'hot', time(() => tsKernels.ternaryMatmul(packed, rows, cols, xq, n, out), 0.01));
    }
  }
}

if (want('head')) {
  // The float output head in generation: one token (n = 1) against the whole tied embedding, F16 at the
  // 125m and 2b4t shapes and F32 at 125m. Both matrices exceed the L3, so every byte comes from DRAM.
  console.log('\nfloat head GEMV y = x . W^T (n = 1); GB/s = weight bytes / time');
  console.log('kernel      rows x cols   thr   ms/call    GB/s  %bw');
  const heads: Array<['f16' | 'f32', number, number]> = [
    ['f16', 32000, 768],
    ['f32', 32000, 768],
    ['f16', 128256, 2560],
  ];
  for (const [kind, rows, cols] of heads) {
    const x = new Float32Array(cols).map(() => rng.normal());
    const y = new Float32Array(rows);
    const w16 = kind === 'f16' ? new Uint16Array(rows * cols).map(() => 0x3c00 ^ rng.int(0x400) ^ (rng.int(2) << 15)) : null;
    const w32 = kind === 'f32' ? new Float32Array(rows * cols).map(() => rng.normal()) : null;
    const bytes = rows * cols * (kind === 'f16' ? 2 : 4);
    for (const thr of THREADS) {
      addon.setThreads(thr);
      const s = time(() => (w16 ? addon.matmulF16(x, 1, cols, w16, rows, y) : addon.matmulF32(x, 1, cols, w32!, rows, y)));
      const gbs = bytes / s / 1e9;
      console.log(`matmul${kind.toUpperCase()}   ${`${rows}x${cols}`.padEnd(11)} ${String(thr).padStart(3)}  ${fmt(s * 1e3, 3)}  ${fmt(gbs)} ${fmt((100 * gbs) / BANDWIDTH[thr]!, 0)}`);
    }
  }
}

if (want('sgemm')) {
  console.log('\nsgemm C[m,n] = op(A)[m,k] . op(B)[k,n]');
  console.log('  m     n     k  transA transB thr   ms/call  GFLOP/s');
  for (const [m, n, k] of [
    [512, 2048, 512],
    [1024, 1024, 256],
  ] as const) {
    const a = new Float32Array(m * k).map(() => rng.normal());
    const b = new Float32Array(k * n).map(() => rng.normal());
    const c = new Float32Array(m * n);
    for (const [ta, tb] of [[false, false], [true, false], [false, true]] as const)
      for (const thr of THREADS) {
        addon.setThreads(thr);
        const s = time(() => addon.sgemm(m, n, k, a, ta, b, tb, c));
        console.log(`${String(m).padStart(4)} ${String(n).padStart(5)} ${String(k).padStart(5)}  ${String(ta).padEnd(6)} ${String(tb).padEnd(6)} ${thr}  ${fmt(s * 1e3, 2)}  ${fmt((2 * m * n * k) / s / 1e9)}`);
      }
  }
}
addon.setThreads(THREADS[THREADS.length - 1]!);
