// Training's fused causal attention, token-major (TrainKernels.attentionTrain / attentionTrainGrad,
// native/src/attention_train.cc): forward, log-sum-exp and gradients against the float64 formulas on
// every instruction set the CPU has, GQA included, the same bits at 1 and 2 threads; bad calls refused.
// Then the tfjs op (ops.ts causalAttention) against the composite it replaces (causalAttentionComposite:
// tile, bmmT, scale, mask, softmax, bmm), values and gradients. If the addon is not built this FAILS;
// BITNET_NO_NATIVE=1 skips the native half.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { useBackend } from '../../src/train/backend.ts';
import { causalAttention, causalAttentionComposite, causalMask } from '../../src/train/ops.ts';
import { describeEachIsa } from '../infer/helpers.ts';

interface Dims {
  B: number;
  H: number;
  Hkv: number;
  T: number;
  hd: number;
}

/** The float64 forward and backward, token-major: out, dq [B, T, H, hd], lse [B, H, T]; dk, dv [B, T, Hkv, hd]. */
function reference(d: Dims, q: Float32Array, k: Float32Array, v: Float32Array, dout: Float32Array) {
  const { B, H, Hkv, T, hd } = d;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float64Array(B * T * H * hd);
  const lse = new Float64Array(B * H * T);
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const qi = (b: number, h: number, t: number) => ((b * T + t) * H + h) * hd;
  const ki = (b: number, g: number, s: number) => ((b * T + s) * Hkv + g) * hd;
  const oi = (b: number, t: number, h: number) => ((b * T + t) * H + h) * hd;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / Hkv));
      for (let t = 0; t < T; t++) {
        const sc = Array.from({ length: t + 1 }, (_, s) => {
          let x = 0;
          for (let j = 0; j < hd; j++) x += q[qi(b, h, t) + j]! * k[ki(b, g, s) + j]!;
          return x * scale;
        });
        const m = Math.max(...sc);
        const z = sc.reduce((a, x) => a + Math.exp(x - m), 0);
        lse[(b * H + h) * T + t] = m + Math.log(z);
        const p = sc.map((x) => Math.exp(x - m) / z);
        for (let s = 0; s <= t; s++) for (let j = 0; j < hd; j++) out[oi(b, t, h) + j] += p[s]! * v[ki(b, g, s) + j]!;
        let D = 0;
        for (let j = 0; j < hd; j++) D += dout[oi(b, t, h) + j]! * out[oi(b, t, h) + j]!;
        for (let s = 0; s <= t; s++) {
          let dp = 0;
          for (let j = 0; j < hd; j++) {
            dv[ki(b, g, s) + j] += p[s]! * dout[oi(b, t, h) + j]!;
            dp += dout[oi(b, t, h) + j]! * v[ki(b, g, s) + j]!;
          }
          const ds = p[s]! * (dp - D) * scale;
          for (let j = 0; j < hd; j++) {
            dq[qi(b, h, t) + j] += ds * k[ki(b, g, s) + j]!;
            dk[ki(b, g, s) + j] += ds * q[qi(b, h, t) + j]!;
          }
        }
      }
    }
  return { out, lse, dq, dk, dv };
}

function expectClose(got: Float32Array, want: Float64Array, rel: number, what: string): void {
  const big = Math.max(1e-30, ...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i]! - want[i]!) <= rel * big)) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]} (max |want| ${big})`);
}

// odd head sizes (vector tails), GQA groups of 2 and 4, a T past a few vector widths and query blocks
const SHAPES: readonly Dims[] = [
  { B: 2, H: 4, Hkv: 4, T: 7, hd: 8 },
  { B: 1, H: 4, Hkv: 2, T: 33, hd: 64 },
  { B: 3, H: 4, Hkv: 1, T: 16, hd: 12 },
  { B: 1, H: 2, Hkv: 2, T: 1, hd: 5 },
  { B: 1, H: 2, Hkv: 1, T: 70, hd: 24 }, // three blocks of query rows (the tiled bodies' 32), the last one partial
];

describe('train: fused causal attention (attentionTrain, attentionTrainGrad)', () => {
  const addon = nativeAddon();
  if (process.env.BITNET_NO_NATIVE === '1') return;
  it('is built and exports attentionTrain and attentionTrainGrad', () => {
    expect(addon).to.not.equal(null);
    expect(typeof addon!.attentionTrain).to.equal('function');
    expect(typeof addon!.attentionTrainGrad).to.equal('function');
  });
  if (addon === null) return;
  const a = addon;

  describeEachIsa(
    a,
    (isa) => {
      it('the float64 formulas (out, lse, dq, dk, dv within 2e-6 of their largest value); the same bits at 1 and 2 threads', () => {
        const rng = new Rng(61);
        for (const d of SHAPES) {
          const { B, H, Hkv, T, hd } = d;
          const q = rng.fillNormal(new Float32Array(B * H * T * hd), 1);
          const k = rng.fillNormal(new Float32Array(B * Hkv * T * hd), 1);
          const v = rng.fillNormal(new Float32Array(B * Hkv * T * hd), 1);
          const dout = rng.fillNormal(new Float32Array(B * T * H * hd), 1);
          const want = reference(d, q, k, v, dout);
          const runs = [1, 2].map((threads) => {
            a.setThreads(threads);
            const out = new Float32Array(B * T * H * hd);
            const lse = new Float32Array(B * H * T);
            a.attentionTrain(q, k, v, B, H, Hkv, T, hd, 1 / Math.sqrt(hd), out, lse);
            const dq = new Float32Array(q.length).fill(NaN);
            const dk = new Float32Array(k.length).fill(NaN);
            const dv = new Float32Array(v.length).fill(NaN);
            a.attentionTrainGrad(q, k, v, out, lse, dout, B, H, Hkv, T, hd, 1 / Math.sqrt(hd), dq, dk, dv);
            return { out, lse, dq, dk, dv };
          });
          const what = `${isa} B${B} H${H}/${Hkv} T${T} hd${hd}`;
          for (const key of ['out', 'lse', 'dq', 'dk', 'dv'] as const) {
            expectClose(runs[0]![key], want[key], 2e-6, `${what} ${key}`);
            expect(Array.from(runs[1]![key]), `${what} ${key} threads`).to.deep.equal(Array.from(runs[0]![key]));
          }
        }
      });
    },
  );

  it('refuses bad calls with a TypeError or RangeError naming the argument', () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => a.attentionTrain(f(16), f(16), f(16), 1, 2, 2, 2, 4, 0.5, f(16), f(4))).to.not.throw();
    expect(() => a.attentionTrain(f(16), f(16), f(16), 1, 3, 2, 2, 4, 0.5, f(16), f(4))).to.throw(RangeError, /kvHeads/);
    expect(() => a.attentionTrain(f(16), f(15), f(16), 1, 2, 2, 2, 4, 0.5, f(16), f(4))).to.throw(RangeError, /\bk\b/);
    expect(() => a.attentionTrain(f(16), f(16), f(16), 1, 2, 2, 2, 4, 0.5, f(16), f(3))).to.throw(RangeError, /lse/);
    expect(() => a.attentionTrain(new Int8Array(16) as unknown as Float32Array, f(16), f(16), 1, 2, 2, 2, 4, 0.5, f(16), f(4))).to.throw(TypeError, /\bq\b/);
    expect(() => a.attentionTrainGrad(f(16), f(16), f(16), f(16), f(4), f(16), 1, 2, 2, 2, 4, 0.5, f(16), f(16), f(15))).to.throw(RangeError, /dv/);
  });
});

describe('train/ops: causalAttention, the fused kernels in the tfjs graph', () => {
  it('values and gradients (q, k, v) within float rounding of the tfjs composite, with and without GQA', async () => {
    const choice = await useBackend('wasm');
    if (!choice.nativeMatmul) {
      expect(process.env.BITNET_NO_NATIVE, 'the native kernels are not in use').to.equal('1');
      return;
    }
    const rng = new Rng(67);
    for (const d of [{ B: 2, H: 4, Hkv: 4, T: 24, hd: 16 }, { B: 2, H: 4, Hkv: 2, T: 24, hd: 16 }]) {
      const { B, H, Hkv, T, hd } = d;
      const q = tf.tensor4d(rng.fillNormal(new Float32Array(B * H * T * hd), 1), [B, T, H, hd]);
      const k = tf.tensor4d(rng.fillNormal(new Float32Array(B * Hkv * T * hd), 1), [B, T, Hkv, hd]);
      const v = tf.tensor4d(rng.fillNormal(new Float32Array(B * Hkv * T * hd), 1), [B, T, Hkv, hd]);
      const w = tf.tensor4d(rng.fillNormal(new Float32Array(B * T * H * hd), 1), [B, T, H, hd]);
      const mask = tf.tensor2d(causalMask(T), [T, T]);
      const run = (f: typeof causalAttention) =>
        tf.tidy(() => {
          const y = f(q, k, v, mask).dataSync() as Float32Array;
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask), w)))([q, k, v]);
          return [y, ...g.map((t) => t.dataSync() as Float32Array)];
        });
      const fused = run(causalAttention);
      const composite = run(causalAttentionComposite);
      ['out', 'dq', 'dk', 'dv'].forEach((name, i) => expectClose(fused[i]!, Float64Array.from(composite[i]!), 1e-5, `H${H}/${Hkv} ${name}`));
      tf.dispose([q, k, v, w, mask]);
    }
  });
});
