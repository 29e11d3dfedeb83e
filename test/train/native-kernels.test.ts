import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/train/backend.ts';
import { nativeStatus } from '../../src/native/addon.ts';
import { Rng } from '../../src/data/rng.ts';
import { bmm, bmmT, crossEntropy, linear, rope } from '../../src/train/ops.ts';
import { NATIVE_ACT_QUANT, nativeTrainKernels, transposeFlagsAreFree } from '../../src/train/native-kernels.ts';
import { actQuantForward } from '../../src/quant/ste.ts';
import { actRange } from '../../src/quant/activations.ts';
import { EPS } from '../../src/quant/round.ts';
import { dequantize, quantizeBinary, quantizeTernary } from '../../src/quant/weights.ts';
import { fakeQuantWeight, rmsNorm } from '../../src/train/ops.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { describeEachIsa } from '../infer/helpers.ts';

/** Naive float64 matmul of [batch, m, k]·[batch, k, n] with the flags applied by index. */
function naive(a: Float32Array, b: Float32Array, batch: [number, number], m: number, n: number, k: number, ta: boolean, tb: boolean): Float64Array {
  const out = new Float64Array(Math.max(...batch) * m * n);
  for (let z = 0; z < Math.max(...batch); z++) {
    const ao = batch[0] === 1 ? 0 : z * m * k;
    const bo = batch[1] === 1 ? 0 : z * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ao + (ta ? p * m + i : i * k + p)]! * b[bo + (tb ? j * k + p : p * n + j)]!;
        out[z * m * n + i * n + j] = s;
      }
  }
  return out;
}

describe('train/native-kernels: the wasm BatchMatMul on the addon', () => {
  it('is installed when the addon loaded (unless BITNET_NO_NATIVE=1), and agrees with a naive matmul for every flag and broadcast', async () => {
    const choice = await useBackend('wasm');
    if (process.env.BITNET_NO_NATIVE === '1') expect(choice.nativeMatmul).to.equal(false);
    else expect(choice.nativeMatmul, nativeStatus().reason).to.equal(true);
    const rng = new Rng(5);
    for (const [batch, m, n, k] of [[[1, 1], 5, 7, 3], [[3, 3], 17, 9, 33], [[4, 1], 8, 65, 16], [[1, 2], 31, 2, 130]] as [[number, number], number, number, number][])
      for (const ta of [false, true])
        for (const tb of [false, true]) {
          const a = rng.fillNormal(new Float32Array(batch[0] * m * k), 1);
          const b = rng.fillNormal(new Float32Array(batch[1] * k * n), 1);
          const got = tf.tidy(() =>
            tf.matMul(tf.tensor3d(a, [batch[0], ta ? k : m, ta ? m : k]), tf.tensor3d(b, [batch[1], tb ? n : k, tb ? k : n]), ta, tb).dataSync(),
          );
          const want = naive(a, b, batch, m, n, k, ta, tb);
          expect(got.length).to.equal(want.length);
          for (let i = 0; i < want.length; i++) expect(got[i]).to.be.closeTo(want[i]!, 1e-4 * (1 + Math.abs(want[i]!)));
        }
  });
});

describe('train/ops: linear, bmm, bmmT values and gradients (transpose flags on the native matmul)', () => {
  it('equal the naive float64 matmuls, forward and backward', async () => {
    const choice = await useBackend('wasm');
    expect(transposeFlagsAreFree()).to.equal(choice.nativeMatmul);
    const rng = new Rng(9);
    const close = (got: ArrayLike<number>, want: Float64Array) => {
      expect(got.length).to.equal(want.length);
      for (let i = 0; i < want.length; i++) expect(got[i]).to.be.closeTo(want[i]!, 1e-4 * (1 + Math.abs(want[i]!)));
    };
    // linear: y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x (loss = Σ y ⊙ dy)
    const [N, I, O] = [6, 5, 4];
    const x = rng.fillNormal(new Float32Array(N * I), 1);
    const w = rng.fillNormal(new Float32Array(O * I), 1);
    const dy = rng.fillNormal(new Float32Array(N * O), 1);
    const [y, gx, gw] = tf.tidy(() => {
      const f = (xt: tf.Tensor, wt: tf.Tensor) => tf.sum(tf.mul(linear(xt as tf.Tensor2D, wt as tf.Tensor2D), tf.tensor2d(dy, [N, O])));
      const g = tf.grads(f)([tf.tensor2d(x, [N, I]), tf.tensor2d(w, [O, I])]);
      return [linear(tf.tensor2d(x, [N, I]), tf.tensor2d(w, [O, I])).dataSync(), g[0]!.dataSync(), g[1]!.dataSync()];
    });
    close(y!, naive(x, w, [1, 1], N, O, I, false, true));
    close(gx!, naive(dy, w, [1, 1], N, I, O, false, false));
    close(gw!, naive(dy, x, [1, 1], O, I, N, true, false));
    // bmm and bmmT on [1, 2, M, K]
    const [M, K, P] = [3, 4, 5];
    const a = rng.fillNormal(new Float32Array(2 * M * K), 1);
    const b = rng.fillNormal(new Float32Array(2 * K * P), 1); // [2, K, P]; as bmmT's operand it is [2, P, K]
    const d1 = rng.fillNormal(new Float32Array(2 * M * P), 1);
    const run = (op: typeof bmm, bShape: [number, number, number, number]) =>
      tf.tidy(() => {
        const f = (at: tf.Tensor, bt: tf.Tensor) => tf.sum(tf.mul(op(at as tf.Tensor4D, bt as tf.Tensor4D), tf.tensor4d(d1, [1, 2, M, P])));
        const g = tf.grads(f)([tf.tensor4d(a, [1, 2, M, K]), tf.tensor(b, bShape)]);
        return [op(tf.tensor4d(a, [1, 2, M, K]), tf.tensor(b, bShape) as tf.Tensor4D).dataSync(), g[0]!.dataSync(), g[1]!.dataSync()];
      });
    const [v1, ga1, gb1] = run(bmm, [1, 2, K, P]);
    close(v1!, naive(a, b, [2, 2], M, P, K, false, false));
    close(ga1!, naive(d1, b, [2, 2], M, K, P, false, true));
    close(gb1!, naive(a, d1, [2, 2], K, P, M, true, false));
    const [v2, ga2, gb2] = run(bmmT, [1, 2, P, K]);
    close(v2!, naive(a, b, [2, 2], M, P, K, false, true));
    close(ga2!, naive(d1, b, [2, 2], M, K, P, false, false));
    close(gb2!, naive(d1, a, [2, 2], P, K, M, true, false));
  });
});

describe('train/native-kernels: Sum over leading axes on the native sgemm', () => {
  it('equals a naive float64 sum for leading, trailing and middle axes, negative axes, keepDims', async () => {
    await useBackend('wasm');
    const rng = new Rng(11);
    const shape = [6, 5, 7];
    const x = rng.fillNormal(new Float32Array(6 * 5 * 7), 1);
    const at = (i: number, j: number, k: number) => x[(i * 5 + j) * 7 + k]!;
    const cases: Array<[number | number[], boolean, number[], (idx: number[]) => number]> = [
      [0, false, [5, 7], ([j, k]) => [0, 1, 2, 3, 4, 5].reduce((a, i) => a + at(i, j!, k!), 0)],
      [[0, 1], true, [1, 1, 7], ([, , k]) => [...Array(30).keys()].reduce((a, t) => a + at(Math.floor(t / 5), t % 5, k!), 0)],
      [[1, 0], false, [7], ([k]) => [...Array(30).keys()].reduce((a, t) => a + at(Math.floor(t / 5), t % 5, k!), 0)],
      [-1, false, [6, 5], ([i, j]) => [...Array(7).keys()].reduce((a, k) => a + at(i!, j!, k), 0)],
      [1, false, [6, 7], ([i, k]) => [...Array(5).keys()].reduce((a, j) => a + at(i!, j, k!), 0)],
    ];
    for (const [axis, keepDims, outShape, want] of cases) {
      const got = tf.tidy(() => tf.sum(tf.tensor3d(x, shape as [number, number, number]), axis, keepDims));
      expect(got.shape, `axis ${axis}`).to.deep.equal(outShape);
      const v = got.dataSync();
      const strides = outShape.map((_, d) => outShape.slice(d + 1).reduce((a, b) => a * b, 1));
      for (let f = 0; f < v.length; f++) {
        const idx = strides.map((st, d) => Math.floor(f / st) % outShape[d]!);
        expect(v[f]).to.be.closeTo(want(idx), 1e-4);
      }
      got.dispose();
    }
  });
});

describe('train/native-kernels: RoPE as one native kernel', () => {
  it("token-major [B, T, heads, hd]: the engine's arithmetic (double operands, one rounding) forward and inverse, near the composite", async () => {
    const choice = await useBackend('wasm');
    expect(nativeTrainKernels()).to.equal(choice.nativeMatmul);
    const [B, T, H, hd] = [2, 5, 3, 8];
    const rng = new Rng(13);
    const x = rng.fillNormal(new Float32Array(B * T * H * hd), 1);
    const dy = rng.fillNormal(new Float32Array(B * T * H * hd), 1);
    const cos = Float32Array.from({ length: (T * hd) / 2 }, (_, i) => Math.cos(0.3 * i));
    const sin = Float32Array.from({ length: (T * hd) / 2 }, (_, i) => Math.sin(0.3 * i));
    const [y, g] = tf.tidy(() => {
      const c = tf.tensor2d(cos, [T, hd / 2]);
      const s = tf.tensor2d(sin, [T, hd / 2]);
      const f = (xt: tf.Tensor) => tf.sum(tf.mul(rope(xt as tf.Tensor4D, c, s), tf.tensor4d(dy, [B, T, H, hd])));
      return [rope(tf.tensor4d(x, [B, T, H, hd]), c, s).dataSync(), tf.grad(f)(tf.tensor4d(x, [B, T, H, hd])).dataSync()];
    });
    const half = hd / 2;
    const f = Math.fround;
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++)
          for (let j = 0; j < half; j++) {
            const o = ((b * T + t) * H + h) * hd;
            const [c, s] = [cos[t * half + j]!, sin[t * half + j]!];
            const [x1, x2, d1, d2] = [x[o + j]!, x[o + half + j]!, dy[o + j]!, dy[o + half + j]!];
            if (choice.nativeMatmul) {
              expect(y![o + j]).to.equal(f(x1 * c - x2 * s)); // JS doubles: the products exact, one rounding each way
              expect(y![o + half + j]).to.equal(f(x2 * c + x1 * s));
              expect(g![o + j]).to.equal(f(d1 * c + d2 * s));
              expect(g![o + half + j]).to.equal(f(d2 * c - d1 * s));
            } else {
              expect(y![o + j]).to.equal(f(f(x1 * c) - f(x2 * s))); // the composite: one rounding per op
              expect(y![o + half + j]).to.equal(f(f(x2 * c) + f(x1 * s)));
              expect(g![o + j]).to.be.closeTo(d1 * c + d2 * s, 1e-5);
              expect(g![o + half + j]).to.be.closeTo(d2 * c - d1 * s, 1e-5);
            }
          }
  });
});

describe('train/ops: crossEntropy (native single pass on wasm with the addon)', () => {
  const addon = nativeAddon();
  if (addon && process.env.BITNET_NO_NATIVE !== '1')
    describeEachIsa(addon, (isa) => {
      it('softmaxXent: per-row loss and softmax − onehot within float rounding of float64 (a large logit, a row length past whole vectors)', () => {
        const [N, V] = [5, 1003];
        const x = new Rng(19).fillNormal(new Float32Array(N * V), 3);
        x[7] = 80;
        const t = Int32Array.from({ length: N }, (_, i) => (i * 211) % V);
        const loss = new Float32Array(N);
        const g = new Float32Array(N * V);
        addon.softmaxXent(x, N, V, t, loss, g);
        for (let i = 0; i < N; i++) {
          const row = x.subarray(i * V, (i + 1) * V);
          const m = Math.max(...row);
          const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
          expect(loss[i], `${isa} row ${i}`).to.be.closeTo(m + Math.log(z) - row[t[i]!]!, 2e-6 * (1 + Math.abs(m)));
          for (let j = 0; j < V; j++) expect(g[i * V + j]).to.be.closeTo(Math.exp(row[j]! - m) / z - (j === t[i] ? 1 : 0), 1e-7);
        }
      });
    });
  if (addon && process.env.BITNET_NO_NATIVE !== '1')
    it('softmaxXent: the AVX2 path gives the scalar path\'s bits (lane-exact exponentials, z summed in index order), specials included', function () {
      try {
        addon.setIsa('avx2');
      } catch {
        this.skip(); // no AVX2 on this CPU
      }
      try {
        const [N, V] = [7, 1027];
        const x = new Rng(23).fillNormal(new Float32Array(N * V), 4);
        x[3] = 90; // a large logit
        x[V + 5] = -1e30; // exp underflows to 0: the lanes outside the polynomial's range go through the scalar exp
        x[2 * V + 1] = -Infinity;
        x[3 * V + 2] = Number.NaN; // a NaN logit: the row's loss and gradient are NaN on both paths
        const t = Int32Array.from({ length: N }, (_, i) => (i * 311) % V);
        const run = (isa: 'scalar' | 'avx2') => {
          addon.setIsa(isa);
          const loss = new Float32Array(N);
          const g = new Float32Array(N * V);
          addon.softmaxXent(x, N, V, t, loss, g);
          return { loss, g };
        };
        const a = run('avx2');
        const b = run('scalar');
        for (let i = 0; i < N; i++) if (!Object.is(a.loss[i], b.loss[i])) expect.fail(`loss[${i}]: avx2 ${a.loss[i]} vs scalar ${b.loss[i]}`);
        for (let i = 0; i < N * V; i++) if (!Object.is(a.g[i], b.g[i])) expect.fail(`grad[${i}]: avx2 ${a.g[i]} vs scalar ${b.g[i]}`);
      } finally {
        addon.setIsa('auto');
      }
    });
  it('equals the float64 mean of logsumexp − picked logit, and its gradient (softmax − onehot)/N', async () => {
    await useBackend('wasm');
    const [N, V] = [7, 300];
    const rng = new Rng(17);
    const x = rng.fillNormal(new Float32Array(N * V), 3);
    x[5] = 80; // a large logit: the max shift matters
    const t = Int32Array.from({ length: N }, (_, i) => (i * 37) % V);
    const [loss, g] = tf.tidy(() => {
      const f = (xt: tf.Tensor) => crossEntropy(xt as tf.Tensor2D, t);
      return [f(tf.tensor2d(x, [N, V])).dataSync()[0]!, tf.grad(f)(tf.tensor2d(x, [N, V])).dataSync()];
    });
    let want = 0;
    for (let i = 0; i < N; i++) {
      const row = x.subarray(i * V, (i + 1) * V);
      const m = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
      want += (m + Math.log(z) - row[t[i]!]!) / N;
      for (let j = 0; j < V; j++) expect(g![i * V + j]).to.be.closeTo((Math.exp(row[j]! - m) / z - (j === t[i] ? 1 : 0)) / N, 1e-6);
    }
    expect(loss).to.be.closeTo(want, 1e-5 * Math.abs(want));
  });
});

describe('train/native-kernels: fused activation fake-quant and the embedding gather', () => {
  it('BitnetActQuant gives the bits of the tfjs composite (int8 and int4, halves, zero rows); GatherV2 copies rows', async function () {
    const choice = await useBackend('wasm');
    if (!choice.nativeMatmul) this.skip();
    const rng = new Rng(19);
    const [n, cols] = [9, 300];
    const x = rng.fillNormal(new Float32Array(n * cols), 2);
    x.fill(0, cols, 2 * cols); // a zero row: s = qmax / eps
    for (let j = 0; j < 20; j++) x[2 * cols + j] = (j - 10) + 0.5; // ties at s = 1 (max 127 below)
    x[2 * cols + 20] = 127;
    for (const bits of [8, 4] as const) {
      const { qmax, lo, hi } = actRange(bits);
      const [want, got] = tf.tidy(() => {
        const t = tf.tensor2d(x, [n, cols]);
        return [actQuantForward(t, bits).dataSync(), (tf.engine().runKernel(NATIVE_ACT_QUANT, { x: t }, { qmax, lo, hi, eps: EPS }) as tf.Tensor).dataSync()];
      });
      expect(Array.from(new Uint32Array(got!.buffer))).to.deep.equal(Array.from(new Uint32Array(want!.buffer)));
    }
    const table = rng.fillNormal(new Float32Array(50 * 7), 1);
    const ids = Int32Array.from([3, 0, 49, 3, 17]);
    const rows = tf.tidy(() => tf.gather(tf.tensor2d(table, [50, 7]), tf.tensor1d(ids, 'int32')).dataSync());
    ids.forEach((id, i) => expect(Array.from(rows.subarray(i * 7, i * 7 + 7))).to.deep.equal(Array.from(table.subarray(id * 7, id * 7 + 7))));
  });
});

describe('train/ops: weight fake-quant forward as one native kernel', () => {
  it('equals src/quant\'s typed-array quantizer (codes × scales) for ternary and binary at every granularity, gradient straight through', async function () {
    const choice = await useBackend('wasm');
    if (!choice.nativeMatmul) this.skip();
    const rng = new Rng(23);
    const [rows, cols] = [12, 64];
    const w = rng.fillNormal(new Float32Array(rows * cols), 0.05);
    for (const g of [{ kind: 'tensor' }, { kind: 'row' }, { kind: 'group', size: 16 }] as const)
      for (const kind of ['ternary', 'binary'] as const) {
        const want = dequantize((kind === 'ternary' ? quantizeTernary : quantizeBinary)(w, rows, cols, g));
        const [got, grad] = tf.tidy(() => {
          const t = tf.tensor2d(w, [rows, cols]);
          const f = (x: tf.Tensor) => tf.sum(tf.mul(fakeQuantWeight(x as tf.Tensor2D, g, kind), tf.onesLike(x)));
          return [fakeQuantWeight(t, g, kind).dataSync(), tf.grad(f)(t).dataSync()];
        });
        for (let i = 0; i < want.length; i++) expect(got![i], `${kind} ${g.kind} [${i}]`).to.be.closeTo(want[i]!, 1e-6 * Math.abs(want[i]!) + 1e-12);
        expect(Array.from(grad!)).to.deep.equal(new Array(rows * cols).fill(1));
      }
  });
});

describe('train/ops: rmsNorm forward and backward as native kernels', () => {
  it('equal the float64 formulas: y = x·r·w, dx = r·(dy·w) − x·r³/d·Σ(dy·w·x), dw = Σ dy·x·r', async function () {
    const choice = await useBackend('wasm');
    if (!choice.nativeMatmul) this.skip();
    const rng = new Rng(29);
    const [n, d, eps] = [5, 33, 1e-5];
    const x = rng.fillNormal(new Float32Array(n * d), 2);
    const w = rng.fillNormal(new Float32Array(d), 1);
    const dy = rng.fillNormal(new Float32Array(n * d), 1);
    const [y, gx, gw] = tf.tidy(() => {
      const f = (xt: tf.Tensor, wt: tf.Tensor) => tf.sum(tf.mul(rmsNorm(xt, wt as tf.Tensor1D, eps), tf.tensor2d(dy, [n, d])));
      const g = tf.grads(f)([tf.tensor2d(x, [n, d]), tf.tensor1d(w)]);
      return [rmsNorm(tf.tensor2d(x, [n, d]), tf.tensor1d(w), eps).dataSync(), g[0]!.dataSync(), g[1]!.dataSync()];
    });
    const dwWant = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const xi = x.subarray(i * d, (i + 1) * d);
      const r = 1 / Math.sqrt(xi.reduce((a, v) => a + v * v, 0) / d + eps);
      let dot = 0;
      for (let j = 0; j < d; j++) dot += dy[i * d + j]! * w[j]! * xi[j]!;
      for (let j = 0; j < d; j++) {
        expect(y![i * d + j]).to.be.closeTo(xi[j]! * r * w[j]!, 1e-5 * (1 + Math.abs(xi[j]! * r * w[j]!)));
        const want = r * dy[i * d + j]! * w[j]! - (xi[j]! * r ** 3 * dot) / d;
        expect(gx![i * d + j]).to.be.closeTo(want, 1e-5 * (1 + Math.abs(want)));
        dwWant[j] += dy[i * d + j]! * xi[j]! * r;
      }
    }
    for (let j = 0; j < d; j++) expect(gw![j]).to.be.closeTo(dwWant[j]!, 1e-5 * (1 + Math.abs(dwWant[j]!)));
  });
});
