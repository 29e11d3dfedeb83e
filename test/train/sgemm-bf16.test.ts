// Training's bf16 matmul (the addon's sgemm with bf16 = true; train.matmul_precision "bf16"): on every
// instruction set the CPU has (avx512vnni runs AVX-512 BF16 where the CPU has it, the others round the
// inputs and use the float32 sgemm), exact where the bf16 inputs' products sum exactly (every transpose
// flag, odd k, partial tiles), within float32 summation error of the float64 product of the
// bf16-rounded inputs elsewhere, rounding to nearest with ties to even, the same bits at 1 and 2
// threads. Then the trainer: a bf16 run trains like a float32 one, and bf16 without the native
// kernels is refused naming the setting. If the addon is not built this FAILS; BITNET_NO_NATIVE=1
// skips the native half.
import { expect } from 'chai';
import { RunConfig } from '../../src/config/train.ts';
import { Rng } from '../../src/data/rng.ts';
import { InputError } from '../../src/errors.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { useBackend } from '../../src/train/backend.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { train } from '../../src/train/trainer.ts';
import { describeEachIsa } from '../infer/helpers.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';
import path from 'node:path';

/** float → bf16 → float, nearest with ties to even (NaN excluded). */
function bf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000;
  return f[0]!;
}

const opA = (a: Float32Array, m: number, k: number, ta: boolean, i: number, p: number) => (ta ? a[p * m + i]! : a[i * k + p]!);
const opB = (b: Float32Array, k: number, n: number, tb: boolean, p: number, j: number) => (tb ? b[j * k + p]! : b[p * n + j]!);

// [m, n, k]: partial 12x16 tiles and 256-column slices, odd k (a half pair)
const SHAPES = [[1, 1, 1], [5, 3, 7], [13, 17, 33], [40, 50, 257], [75, 20, 300], [12, 16, 512]] as const;

describe('train: the bf16 matmul (sgemm with bf16 inputs)', () => {
  const addon = nativeAddon();
  if (process.env.BITNET_NO_NATIVE === '1') return;
  it('is built and says whether the CPU has AVX-512 BF16', () => {
    expect(addon).to.not.equal(null);
    expect(typeof addon!.cpuFeatures().avx512bf16).to.equal('boolean');
  });
  if (addon === null) return;
  const a = addon;

  describeEachIsa(
    a,
    (isa) => {
      it('exact on small integers, every transpose flag; the same bits at 1 and 2 threads', () => {
        const rng = new Rng(53);
        for (const [m, n, k] of SHAPES)
          for (const ta of [false, true])
            for (const tb of [false, true]) {
              const A = Float32Array.from({ length: m * k }, () => rng.int(17) - 8);
              const B = Float32Array.from({ length: k * n }, () => rng.int(17) - 8);
              const want = new Float32Array(m * n);
              for (let i = 0; i < m; i++)
                for (let j = 0; j < n; j++) {
                  let s = 0;
                  for (let p = 0; p < k; p++) s += opA(A, m, k, ta, i, p) * opB(B, k, n, tb, p, j);
                  want[i * n + j] = s;
                }
              for (const threads of [1, 2]) {
                a.setThreads(threads);
                const got = new Float32Array(m * n).fill(NaN);
                a.sgemm(m, n, k, A, ta, B, tb, got, true);
                expect(Array.from(got), `${m}x${n}x${k} ta=${ta} tb=${tb} threads=${threads}`).to.deep.equal(Array.from(want));
              }
            }
      });
      it('within float32 summation error of the float64 product of the bf16-rounded inputs; deterministic across thread counts', () => {
        const rng = new Rng(59);
        for (const [m, n, k] of SHAPES)
          for (const [ta, tb] of [[false, false], [true, false], [false, true]] as const) {
            const A = rng.fillNormal(new Float32Array(m * k), 1);
            const B = rng.fillNormal(new Float32Array(k * n), 1);
            const runs = [1, 2].map((threads) => {
              a.setThreads(threads);
              const c = new Float32Array(m * n);
              a.sgemm(m, n, k, A, ta, B, tb, c, true);
              return c;
            });
            expect(Array.from(runs[1]!), `${m}x${n}x${k} threads`).to.deep.equal(Array.from(runs[0]!));
            for (let i = 0; i < m; i++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                let abs = 0;
                for (let p = 0; p < k; p++) {
                  const x = bf16(opA(A, m, k, ta, i, p)) * bf16(opB(B, k, n, tb, p, j));
                  s += x;
                  abs += Math.abs(x);
                }
                expect(Math.abs(runs[0]![i * n + j]! - s), `${m}x${n}x${k} [${i}, ${j}]`).to.be.at.most((k + 2) * 2 ** -24 * abs);
              }
          }
      });
      it('rounds its inputs to nearest, ties to even; NaN propagates', () => {
        const c = new Float32Array(1);
        for (const [x, want] of [[1 + 2 ** -8, 1], [1 + 3 * 2 ** -8, 1 + 2 ** -6], [1 + 2 ** -8 + 2 ** -20, 1 + 2 ** -7], [-(1 + 2 ** -8), -1], [3.0, 3.0]] as const) {
          a.sgemm(1, 1, 1, Float32Array.of(x), false, Float32Array.of(1), false, c, true);
          expect(c[0], `bf16(${x})`).to.equal(want);
        }
        a.sgemm(1, 1, 2, Float32Array.of(1, NaN), false, Float32Array.of(1, 1), false, c, true);
        expect(Number.isNaN(c[0])).to.equal(true);
      });
    },
    (isa) => `${isa}${isa === 'avx512vnni' && a.cpuFeatures().avx512bf16 ? ' (AVX-512 BF16)' : ''}`,
  );
});

describe('train: train.matmul_precision', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  let vocab: number;
  before(async () => {
    dir = tmpDir('bf16');
    data = await tinyData(dir);
    vocab = (await import('../../src/data/load.ts')).loadPrepared(data).tokenizer.vocabSize;
  });
  after(async () => {
    rmDir(dir);
    await useBackend('wasm'); // the refusal below switched tfjs to cpu
  });

  it('bf16 trains as fp32 does (the same data and seed: losses within 2% at every logged step)', async function () {
    if (process.env.BITNET_NO_NATIVE === '1') this.skip();
    const losses: Record<string, number[]> = {};
    for (const precision of ['fp32', 'bf16'] as const) {
      const run = path.join(dir, precision);
      await train({ config: tinyConfig(vocab, { train: { steps: 12, log_every: 2, eval_every: 12, ckpt_every: 12, matmul_precision: precision } }), dataDir: data, runDir: run, resume: false });
      losses[precision] = readMetrics(path.join(run, 'metrics.arrow')).map((r) => r.loss);
    }
    expect(losses.bf16!.length).to.equal(losses.fp32!.length);
    losses.fp32!.forEach((l, i) => expect(losses.bf16![i], `step window ${i}`).to.be.closeTo(l, 0.02 * l));
    expect(losses.bf16, 'bf16 is not the fp32 path').to.not.deep.equal(losses.fp32);
  });

  it('bf16 without the native kernels is refused naming train.matmul_precision', async () => {
    const config = tinyConfig(vocab, { train: { steps: 2, backend: 'cpu', matmul_precision: 'bf16' } });
    expect(RunConfig.parse(config).train.matmul_precision).to.equal('bf16');
    let err: unknown = null;
    await train({ config, dataDir: data, runDir: path.join(dir, 'cpu'), resume: false }).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(InputError);
    expect(String(err)).to.match(/train\.matmul_precision/);
  });
});
