// The in-place TQ1_0 / TQ2_0 kernel alone (EngineKernels.ternaryMatmulBlocks) at one big-shape matrix:
// GB/s of blocks read per token, per ISA the CPU has, at 1 thread and n = 1 (generation).
//   npx tsx bench/tq-blocks-kernel.ts [ROWS COLS REPS]
import { nativeAddon } from '../src/native/addon.ts';
import { synthTensor } from '../src/infer/synth-codes.ts';
import { commit, machine } from '../scripts/bench-env.ts';

const a = nativeAddon();
if (!a) throw new Error('the native addon is not built');
const [rows, cols, reps] = [Number(process.argv[2] ?? 8192), Number(process.argv[3] ?? 8192), Number(process.argv[4] ?? 20)];
a.setThreads(Number(process.env.BITNET_THREADS ?? 1));
console.log(`tq-kernel — ${machine()}, commit ${commit()}, ${rows} x ${cols}, n = 1, ${a.threads()} thread(s)`);
const xq = Int8Array.from({ length: cols }, (_, i) => ((i * 37) % 255) - 127);
const sx = new Float32Array([1]);
const y = new Float32Array(rows);
for (const type of ['TQ1_0', 'TQ2_0'] as const) {
  const w = synthTensor(type, rows, cols, 1);
  for (const isa of ['avx512vnni', 'avx2'] as const) {
    try {
      a.setIsa(isa);
    } catch {
      continue;
    }
    a.ternaryMatmulBlocks(type, w, rows, cols, xq, sx, 1, y);
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      a.ternaryMatmulBlocks(type, w, rows, cols, xq, sx, 1, y);
      best = Math.min(best, performance.now() - t);
    }
    console.log(`${type} ${isa}: ${best.toFixed(2)} ms, ${(w.length / best / 1e6).toFixed(1)} GB/s of blocks`);
  }
}
a.setIsa('auto');
