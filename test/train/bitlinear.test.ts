// Training's integer BitLinear forward (TrainKernels.bitLinearForward, native/src/bitlinear.cc): bit for
// bit a float64 reference of its contract, on every instruction set the CPU has, at 1 and 2 threads;
// bit for bit the engine's ternaryMatmulScaled on the same codes (the parity the training forward now
// has with the engine); within float rounding of the fake-quant float product; its scales kernels
// (actScales, weightScales) the fake-quant kernels' own scales; bad calls refused. Then the tfjs op
// (ops.ts bitLinear): forward near the float product, gradients those of the float product exactly.
// If the addon is not built this FAILS; BITNET_NO_NATIVE=1 skips the file's native half.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { repackTernary } from '../../src/infer/kernels/index.ts';
import { nativeAddon, type NativeAddon } from '../../src/native/addon.ts';
import { actRange } from '../../src/quant/activations.ts';
import { EPS } from '../../src/quant/round.ts';
import { useBackend } from '../../src/train/backend.ts';
import { bitLinear, linear, quantizeInput, quantizeWeight } from '../../src/train/ops.ts';
import { describeEachIsa } from '../infer/helpers.ts';

/** Fake-quant activations as training makes them: xq = clip(round(x·s))/s per row, with their s. */
function fakeActs(a: NativeAddon, rng: Rng, n: number, cols: number, bits: 8 | 4): { xq: Float32Array; sx: Float32Array } {
  const x = rng.fillNormal(new Float32Array(n * cols), 1.5);
  if (n > 2) x.fill(0, cols, 2 * cols); // a zero row: s = qmax / eps
  const { qmax, lo, hi } = actRange(bits);
  const xq = new Float32Array(n * cols);
  const sx = new Float32Array(n);
  a.actFakeQuant(x, n, cols, Float32Array.of(qmax, lo, hi, EPS), xq);
  a.actScales(x, n, cols, qmax, EPS, sx);
  return { xq, sx };
}

/** Fake-quant weights code·scale with `nseg` segments per row (scale per row·segment, or one for all when `shared`). */
function fakeWeights(rng: Rng, rows: number, cols: number, group: number, shared: boolean, binary: boolean): { wq: Float32Array; codes: Int8Array; scale: Float32Array } {
  const nseg = group > 0 ? cols / group : 1;
  const scale = shared ? Float32Array.of(0.01 + rng.next() * 0.05) : Float32Array.from({ length: rows * nseg }, () => 0.01 + rng.next() * 0.05);
  const codes = Int8Array.from({ length: rows * cols }, () => (binary ? 2 * rng.int(2) - 1 : rng.int(3) - 1));
  const wq = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) wq[r * cols + k] = codes[r * cols + k]! * scale[shared ? 0 : r * nseg + Math.floor(k / (group || cols))]!;
  return { wq, codes, scale };
}

/** The contract in float64: exact integer sums per segment, Σ_s acc_s·scale_s in order, / sx, rounded to float once. */
function reference(xq: Float32Array, sx: Float32Array, n: number, cols: number, codes: Int8Array, rows: number, scale: Float32Array, group: number): Float32Array {
  const seg = group || cols;
  const nseg = cols / seg;
  const y = new Float32Array(n * rows);
  for (let i = 0; i < n; i++) {
    const q = Array.from({ length: cols }, (_, k) => Math.round(Math.fround(xq[i * cols + k]! * sx[i]!)));
    for (let r = 0; r < rows; r++) {
      let v = 0;
      for (let s = 0; s < nseg; s++) {
        let acc = 0;
        for (let k = s * seg; k < (s + 1) * seg; k++) acc += q[k]! * codes[r * cols + k]!;
        v += acc * (scale.length === 1 ? scale[0]! : group === 0 ? scale[r]! : scale[r * nseg + s]!);
      }
      y[i * rows + r] = v / sx[i]!;
    }
  }
  return y;
}

/** Round half to even, as nearbyint and tf.round. */
function rint(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  expect(g.length, what).to.equal(w.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) expect.fail(`${what}: first difference at ${i}: ${got[i]} vs ${want[i]} (of ${g.length})`);
}

// [n, rows, cols, group]: ragged token tiles (8 on VNNI, 4 elsewhere), panels (16 rows), column quads, and segments
const SHAPES: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 1, 4, 0], [3, 17, 6, 0], [9, 33, 130, 0], [70, 40, 256, 0], [13, 16, 64, 8], [11, 31, 192, 64], [66, 48, 512, 256], [5, 7, 12, 4],
];

describe('train: the integer BitLinear forward (bitLinearForward)', () => {
  const addon = nativeAddon();
  if (process.env.BITNET_NO_NATIVE === '1') return;
  it('is built and exports bitLinearForward, actScales and weightScales', () => {
    expect(addon).to.not.equal(null);
    for (const f of ['bitLinearForward', 'actScales', 'weightScales'] as const) expect(typeof addon![f]).to.equal('function');
  });
  if (addon === null) return;
  const a = addon;

  describeEachIsa(
    a,
    (isa) => {
      it('the float64 reference\'s bits: int8 and int4 codes, ternary and binary, per-tensor / per-row / per-segment scales, 1 and 2 threads', () => {
        const rng = new Rng(31);
        for (const [n, rows, cols, group] of SHAPES)
          for (const bits of [8, 4] as const)
            for (const shared of [true, false]) {
              const { xq, sx } = fakeActs(a, rng, n, cols, bits);
              const { wq, codes, scale } = fakeWeights(rng, rows, cols, group, shared, bits === 4);
              const want = reference(xq, sx, n, cols, codes, rows, scale, group);
              for (const threads of [1, 2]) {
                a.setThreads(threads);
                const got = new Float32Array(n * rows).fill(NaN);
                a.bitLinearForward(xq, sx, n, cols, wq, rows, scale, group, got);
                expectSameBits(got, want, `${isa} n=${n} ${rows}x${cols} group ${group} int${bits} ${shared ? 'one scale' : 'scales'} threads=${threads}`);
              }
            }
      });
      it('exact at the extreme codes: -128 and 127 against +1 and -1 over 4100 columns (the AVX2 int16 chunk sums cannot wrap)', () => {
        const [n, rows, cols] = [5, 18, 4100];
        const sx = Float32Array.of(1, 1, 1, 1, 1);
        const xq = new Float32Array(n * cols);
        for (let i = 0; i < n; i++) xq.fill([-128, 127, -128, 127, -1][i]!, i * cols, (i + 1) * cols);
        const codes = Int8Array.from({ length: rows * cols }, (_, j) => (Math.floor(j / cols) % 3 === 2 ? (j % 2 ? 1 : -1) : Math.floor(j / cols) % 3 === 0 ? 1 : -1));
        const scale = Float32Array.of(0.5);
        const wq = Float32Array.from(codes, (c) => c * 0.5);
        const want = reference(xq, sx, n, cols, codes, rows, scale, 0);
        expect(want[0]).to.equal(-128 * cols * 0.5);
        const got = new Float32Array(n * rows);
        a.bitLinearForward(xq, sx, n, cols, wq, rows, scale, 0, got);
        expectSameBits(got, want, `${isa} extreme codes`);
      });
      it("the engine's ternaryMatmulScaled on the same codes, bit for bit (per tensor, per row, groups of 128)", () => {
        const rng = new Rng(37);
        for (const [n, rows, cols, group, shared] of [[9, 40, 256, 0, true], [70, 33, 384, 0, false], [5, 17, 512, 128, false]] as const) {
          const { xq, sx } = fakeActs(a, rng, n, cols, 8);
          const { wq, codes, scale } = fakeWeights(rng, rows, cols, group, shared, false);
          const got = new Float32Array(n * rows);
          a.bitLinearForward(xq, sx, n, cols, wq, rows, scale, group, got);
          const q = Int8Array.from(xq, (v, i) => Math.round(Math.fround(v * sx[Math.floor(i / cols)]!)));
          const want = new Float32Array(n * rows);
          a.ternaryMatmulScaled(repackTernary(codes, rows, cols), rows, cols, q, sx, n, scale, group, want);
          expectSameBits(got, want, `${isa} n=${n} ${rows}x${cols} group ${group}`);
        }
      });
    },
  );

  it('is within float rounding of the fake-quant float product, and NaN in a row gives a NaN row', () => {
    const rng = new Rng(41);
    const [n, rows, cols] = [12, 24, 96];
    const { xq, sx } = fakeActs(a, rng, n, cols, 8);
    const { wq, scale } = fakeWeights(rng, rows, cols, 0, true, false);
    const float = new Float32Array(n * rows);
    a.sgemm(n, rows, cols, xq, false, wq, true, float);
    const got = new Float32Array(n * rows);
    a.bitLinearForward(xq, sx, n, cols, wq, rows, scale, 0, got);
    const big = Math.max(...float.map(Math.abs));
    for (let i = 0; i < got.length; i++) expect(got[i]).to.be.closeTo(float[i]!, 1e-5 * big);
    xq[5 * cols + 7] = NaN;
    a.bitLinearForward(xq, sx, n, cols, wq, rows, scale, 0, got);
    for (let i = 0; i < n; i++) expect(got.subarray(i * rows, (i + 1) * rows).every(Number.isNaN), `row ${i}`).to.equal(i === 5);
  });

  it('actScales and weightScales are the scales inside actFakeQuant and weightFakeQuant', () => {
    const rng = new Rng(43);
    const [n, cols] = [7, 50];
    const x = rng.fillNormal(new Float32Array(n * cols), 2);
    x.fill(0, 0, cols);
    for (const bits of [8, 4] as const) {
      const { qmax, lo, hi } = actRange(bits);
      const y = new Float32Array(n * cols);
      a.actFakeQuant(x, n, cols, Float32Array.of(qmax, lo, hi, EPS), y);
      const s = new Float32Array(n);
      a.actScales(x, n, cols, qmax, EPS, s);
      for (let i = 0; i < n; i++) {
        let m = 0;
        for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(x[i * cols + k]!));
        expect(s[i]).to.equal(Math.fround(qmax / Math.max(m, EPS)));
        for (let k = 0; k < cols; k++) expect(y[i * cols + k]).to.equal(Math.fround(Math.min(hi, Math.max(lo, Math.round(Math.fround(x[i * cols + k]! * s[i]!)))) / s[i]!) || 0);
      }
    }
    const w = rng.fillNormal(new Float32Array(6 * 40), 0.05);
    for (const granule of [240, 40, 8]) {
      const beta = new Float32Array(240 / granule);
      a.weightScales(w, granule, beta);
      const out = new Float32Array(240);
      a.weightFakeQuant(w, granule, false, EPS, out);
      for (let g = 0; g < beta.length; g++) {
        let sum = 0;
        for (let k = g * granule; k < (g + 1) * granule; k++) sum += Math.abs(w[k]!);
        expect(beta[g], `granule ${granule} #${g}`).to.equal(Math.fround(sum / granule));
        for (let k = g * granule; k < (g + 1) * granule; k++) expect(Math.abs(out[k]!) === beta[g] || out[k] === 0).to.equal(true);
      }
    }
  });

  it('refuses bad calls with a TypeError or RangeError naming the argument', () => {
    const xq = new Float32Array(8);
    const sx = new Float32Array(2);
    const wq = new Float32Array(12);
    const y = new Float32Array(6);
    const one = new Float32Array(1);
    expect(() => a.bitLinearForward(xq, sx, 2, 4, wq, 3, one, 0, y)).to.not.throw();
    expect(() => a.bitLinearForward(xq, sx, 2, 4, wq, 3, one, 0, new Float32Array(5))).to.throw(RangeError, /y/);
    expect(() => a.bitLinearForward(xq, new Float32Array(3), 2, 4, wq, 3, one, 0, y)).to.throw(RangeError, /sx/);
    expect(() => a.bitLinearForward(xq, sx, 2, 4, new Float32Array(11), 3, one, 0, y)).to.throw(RangeError, /wq/);
    expect(() => a.bitLinearForward(xq, sx, 2, 4, wq, 3, new Float32Array(2), 0, y)).to.throw(RangeError, /scale/);
    expect(() => a.bitLinearForward(xq, sx, 2, 4, wq, 3, one, 3, y)).to.throw(RangeError, /group/);
    expect(() => a.bitLinearForward(new Float32Array(0), new Float32Array(0), 0, 0, new Float32Array(0), 3, one, 0, new Float32Array(0))).to.throw(RangeError, /cols/);
    expect(() => a.bitLinearForward(new Int8Array(8) as unknown as Float32Array, sx, 2, 4, wq, 3, one, 0, y)).to.throw(TypeError, /xq/);
    expect(() => a.weightScales(wq, 5, new Float32Array(2))).to.throw(RangeError, /granule/);
    expect(() => a.weightScales(wq, 4, new Float32Array(2))).to.throw(RangeError, /beta/);
    expect(() => a.actScales(xq, 2, 4, 127, EPS, new Float32Array(1))).to.throw(RangeError, /\bs\b/);
  });
});

describe('train/ops: bitLinear, the integer forward in the tfjs graph', () => {
  it('forward within float rounding of linear(xq, wq); gradients exactly those of linear(xq, wq), straight through to x and the latent w', async function () {
    const choice = await useBackend('wasm');
    if (!choice.nativeMatmul) {
      expect(process.env.BITNET_NO_NATIVE, 'the native kernels are not in use').to.equal('1');
      return;
    }
    const rng = new Rng(47);
    const [n, cin, cout] = [20, 64, 48];
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(n * cin), 1), [n, cin]);
    const w = tf.tensor2d(rng.fillNormal(new Float32Array(cout * cin), 0.05), [cout, cin]);
    const dy = tf.tensor2d(rng.fillNormal(new Float32Array(n * cout), 1), [n, cout]);
    for (const g of [{ kind: 'tensor' }, { kind: 'row' }, { kind: 'group', size: 16 }] as const) {
      const run = (int: boolean) =>
        tf.tidy(() => {
          const f = (xt: tf.Tensor, wt: tf.Tensor) => {
            const a = quantizeInput(xt as tf.Tensor2D, 8);
            const q = quantizeWeight(wt as tf.Tensor2D, g, 'ternary');
            expect(a.sx !== null && q.scale !== null, 'the integer forward has its scales').to.equal(true);
            return int ? bitLinear(a, q) : linear(a.xq, q.wq);
          };
          const y = f(x, w).dataSync() as Float32Array;
          const [gx, gw] = tf.grads((xt: tf.Tensor, wt: tf.Tensor) => tf.sum(tf.mul(f(xt, wt), dy)))([x, w]);
          return { y, gx: gx!.dataSync() as Float32Array, gw: gw!.dataSync() as Float32Array };
        });
      const int = run(true);
      const float = run(false);
      const big = Math.max(...float.y.map(Math.abs));
      for (let i = 0; i < int.y.length; i++) expect(int.y[i], `${g.kind} y[${i}]`).to.be.closeTo(float.y[i]!, 1e-5 * big);
      expect(Array.from(int.gx), `${g.kind} dx`).to.deep.equal(Array.from(float.gx));
      expect(Array.from(int.gw), `${g.kind} dW`).to.deep.equal(Array.from(float.gw));
    }
    tf.dispose([x, w, dy]);
  });
});
