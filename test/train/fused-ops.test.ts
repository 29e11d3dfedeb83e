// Training's two fused ops (native/src/norm.cc rms_norm_act_quant_fwd, native/src/glu.cc glu/glu_grad):
// - rmsNormActQuant gives the bits of rmsNormTrain followed by actFakeQuant and actScales on its output
//   (int8 and int4, zero and odd-width rows), on every instruction set the CPU has, at 1 and 2 threads;
// - gluTrain gives the bits of the engine's TypeScript reference glu (silu, relu²), gluTrainGrad the
//   float64 formulas within 2 float roundings, the same bits on every ISA and at 1 and 2 threads;
// - bad calls are refused naming the argument;
// - in the tfjs graph (ops.ts normQuantInput, gatedActivation, normBitLinears): values and gradients of
//   the ops they replace (rmsNorm then quantizeInput; sigmoid and multiplies; normQuantInput then
//   bitLinearLatent, bit for bit, and in a whole model), with fewer bytes held after the forward.
// If the addon is not built this FAILS; BITNET_NO_NATIVE=1 skips the native half.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { referenceKernels } from '../../src/infer/kernels/reference.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { actRange } from '../../src/quant/activations.ts';
import { EPS } from '../../src/quant/round.ts';
import { useBackend } from '../../src/train/backend.ts';
import { ModelConfig } from '../../src/config/model.ts';
import { variableGradsFreeing } from '../../src/train/backprop.ts';
import { BitNetModel } from '../../src/train/model.ts';
import {
  bitLinearLatent, gatedActivation, gatedActivationComposite, normBitLinears, normQuantInput, quantizeInput, rmsNorm, type GatedActivation, type MatmulPrecision,
} from '../../src/train/ops.ts';
import { initParams } from '../../src/train/params.ts';
import type { Granularity } from '../../src/quant/weights.ts';
import { describeEachIsa } from '../infer/helpers.ts';

const NORM_EPS = 1e-5;

/** Gates spread over silu's range (large negatives: exp overflows to inf), zeros, and a normal bulk. */
function gates(rng: Rng, n: number): Float32Array {
  const g = rng.fillNormal(new Float32Array(n), 3);
  g.set([0, -0, -30, 30, -800, 90, 1e-30, -1e-30], 0);
  return g;
}

/** The gradient in float64 (the kernel's contract): silu' = s + a·(1 − s), relu²' = 2g. */
function gluGradRef(gate: Float32Array, up: Float32Array, dy: Float32Array, silu: boolean): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    if (silu) {
      const s = 1 / (1 + Math.exp(-g));
      dgate[i] = dy[i]! * up[i]! * (s + g * s * (1 - s));
      dup[i] = dy[i]! * g * s;
    } else if (g > 0) {
      dgate[i] = dy[i]! * up[i]! * 2 * g;
      dup[i] = dy[i]! * g * g;
    }
  }
  return { dgate, dup };
}

/** |got − want| within `ulps` float roundings of |want| (plus a denormal floor). */
function expectUlps(got: Float32Array, want: Float64Array, ulps: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const tol = ulps * 2 ** -23 * Math.abs(want[i]!) + 1e-37;
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

describe('train: fused RMSNorm → activation fake-quant, and the gated activation (native kernels)', () => {
  const addon = nativeAddon();
  if (process.env.BITNET_NO_NATIVE === '1') return;
  it('is built and exports rmsNormActQuant, gluTrain and gluTrainGrad', () => {
    expect(addon).to.not.equal(null);
    for (const f of ['rmsNormActQuant', 'gluTrain', 'gluTrainGrad'] as const) expect(typeof addon![f]).to.equal('function');
  });
  if (addon === null) return;
  const a = addon;
  /** run() on every instruction set this CPU has, back on 'auto' after. */
  const onEveryIsa = (run: () => number[]): number[][] => {
    const out: number[][] = [];
    for (const isa of ['scalar', 'avx2', 'avx512vnni'] as const) {
      try {
        a.setIsa(isa);
      } catch {
        continue; // not on this CPU
      }
      out.push(run());
    }
    a.setIsa('auto');
    return out;
  };

  describeEachIsa(a, (isa) => {
    it('rmsNormActQuant: the bits of rmsNormTrain, then actFakeQuant and actScales of its output; at 1 and 2 threads', () => {
      const rng = new Rng(71);
      for (const [n, cols] of [[9, 256], [3, 37], [64, 512], [1, 8]] as const)
        for (const bits of [8, 4] as const) {
          const x = rng.fillNormal(new Float32Array(n * cols), 2);
          if (n > 2) x.fill(0, cols, 2 * cols); // a zero row: r = 1/√eps, s = qmax/eps
          const w = rng.fillNormal(new Float32Array(cols), 1);
          const { qmax, lo, hi } = actRange(bits);
          const range = Float32Array.of(qmax, lo, hi, EPS);
          const y = new Float32Array(n * cols);
          const r0 = new Float32Array(n);
          a.rmsNormTrain(x, w, n, cols, NORM_EPS, y, r0);
          const xq0 = new Float32Array(n * cols);
          const sx0 = new Float32Array(n);
          a.actFakeQuant(y, n, cols, range, xq0);
          a.actScales(y, n, cols, qmax, EPS, sx0);
          for (const threads of [1, 2]) {
            a.setThreads(threads);
            const xq = new Float32Array(n * cols).fill(NaN);
            const sx = new Float32Array(n).fill(NaN);
            const r = new Float32Array(n).fill(NaN);
            a.rmsNormActQuant(x, w, n, cols, NORM_EPS, range, xq, sx, r);
            const what = `${isa} ${n}x${cols} int${bits} ${threads} thr`;
            expect(Array.from(r), `${what} r`).to.deep.equal(Array.from(r0));
            expect(Array.from(sx), `${what} sx`).to.deep.equal(Array.from(sx0));
            expect(Array.from(xq), `${what} xq`).to.deep.equal(Array.from(xq0));
          }
        }
    });

    it('gluTrain: the bits of the engine\'s TS reference glu; gluTrainGrad: the float64 formulas; the same bits at 1 and 2 threads', () => {
      const rng = new Rng(73);
      for (const len of [4099, 8, 3]) {
        const gate = gates(rng, Math.max(len, 8)).subarray(0, len);
        const up = rng.fillNormal(new Float32Array(len), 2);
        const dy = rng.fillNormal(new Float32Array(len), 1);
        for (const silu of [true, false]) {
          const want = Float32Array.from(gate);
          referenceKernels.glu(want, up, silu);
          const want2 = gluGradRef(gate, up, dy, silu);
          const runs = [1, 2].map((threads) => {
            a.setThreads(threads);
            const out = new Float32Array(len).fill(NaN);
            a.gluTrain(gate, up, silu, out);
            const dgate = new Float32Array(len).fill(NaN);
            const dup = new Float32Array(len).fill(NaN);
            a.gluTrainGrad(gate, up, dy, silu, dgate, dup);
            return { out, dgate, dup };
          });
          const what = `${isa} len ${len} ${silu ? 'silu' : 'relu2'}`;
          expect(Array.from(runs[0]!.out), `${what} out`).to.deep.equal(Array.from(want));
          // double arithmetic rounded once; the reference's exp is libm's, the kernel's the engine's (both < 1 ulp in double)
          expectUlps(runs[0]!.dgate, want2.dgate, 1, `${what} dgate`);
          expectUlps(runs[0]!.dup, want2.dup, 1, `${what} dup`);
          for (const key of ['out', 'dgate', 'dup'] as const) expect(Array.from(runs[1]![key]), `${what} ${key} threads`).to.deep.equal(Array.from(runs[0]![key]));
        }
      }
    });
  });

  it('gives the same gradient bits on every ISA (one order of double operations in the scalar and vector bodies)', () => {
    const rng = new Rng(79);
    const gate = gates(rng, 1031);
    const up = rng.fillNormal(new Float32Array(1031), 2);
    const dy = rng.fillNormal(new Float32Array(1031), 1);
    const [first, ...rest] = onEveryIsa(() => {
      const dgate = new Float32Array(1031);
      const dup = new Float32Array(1031);
      a.gluTrainGrad(gate, up, dy, true, dgate, dup);
      return [...dgate, ...dup];
    });
    for (const r of rest) expect(r).to.deep.equal(first);
  });

  it('rmsNormTrainGrad: the float64 formulas, and the same bits on every ISA (interleaved partial sums in both bodies)', () => {
    const rng = new Rng(97);
    for (const [n, cols] of [[70, 256], [5, 37]] as const) {
      const x = rng.fillNormal(new Float32Array(n * cols), 2);
      const w = rng.fillNormal(new Float32Array(cols), 1);
      const dy = rng.fillNormal(new Float32Array(n * cols), 1);
      const y = new Float32Array(n * cols);
      const r = new Float32Array(n);
      a.rmsNormTrain(x, w, n, cols, NORM_EPS, y, r);
      const [first, ...rest] = onEveryIsa(() => {
        const dx = new Float32Array(n * cols).fill(NaN);
        const dw = new Float32Array(cols).fill(NaN);
        a.rmsNormTrainGrad(x, w, r, dy, n, cols, dx, dw);
        return [...dx, ...dw];
      });
      for (const other of rest) expect(other).to.deep.equal(first);
      const dwWant = new Float64Array(cols);
      for (let i = 0; i < n; i++) {
        const ri = r[i]!;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += dy[i * cols + j]! * w[j]! * x[i * cols + j]!;
        for (let j = 0; j < cols; j++) {
          const want = ri * dy[i * cols + j]! * w[j]! - (x[i * cols + j]! * ri ** 3 * dot) / cols;
          expect(first![i * cols + j]).to.be.closeTo(want, 1e-6 * (1 + Math.abs(want)));
          dwWant[j]! += dy[i * cols + j]! * x[i * cols + j]! * ri;
        }
      }
      for (let j = 0; j < cols; j++) expect(first![n * cols + j]).to.be.closeTo(dwWant[j]!, 1e-5 * (1 + Math.abs(dwWant[j]!)));
    }
  });

  it('refuses bad calls with a TypeError or RangeError naming the argument', () => {
    const f = (n: number) => new Float32Array(n);
    const range = Float32Array.of(127, -128, 127, EPS);
    expect(() => a.rmsNormActQuant(f(8), f(4), 2, 4, 1e-5, range, f(8), f(2), f(2))).to.not.throw();
    expect(() => a.rmsNormActQuant(f(8), f(3), 2, 4, 1e-5, range, f(8), f(2), f(2))).to.throw(RangeError, /\bw\b/);
    expect(() => a.rmsNormActQuant(f(8), f(4), 2, 4, 1e-5, f(3), f(8), f(2), f(2))).to.throw(RangeError, /range/);
    expect(() => a.rmsNormActQuant(f(8), f(4), 2, 4, 1e-5, range, f(7), f(2), f(2))).to.throw(RangeError, /xq/);
    expect(() => a.rmsNormActQuant(f(8), f(4), 2, 4, 1e-5, range, f(8), f(1), f(2))).to.throw(RangeError, /sx/);
    expect(() => a.rmsNormActQuant(f(8), f(4), 2, 4, 1e-5, range, f(8), f(2), f(3))).to.throw(RangeError, /\br\b/);
    expect(() => a.gluTrain(f(8), f(7), true, f(8))).to.throw(RangeError, /up/);
    expect(() => a.gluTrain(f(8), f(8), true, f(9))).to.throw(RangeError, /out/);
    expect(() => a.gluTrain(new Int32Array(8) as unknown as Float32Array, f(8), true, f(8))).to.throw(TypeError, /gate/);
    expect(() => a.gluTrainGrad(f(8), f(8), f(8), true, f(8), f(7))).to.throw(RangeError, /dup/);
    expect(() => a.gluTrainGrad(f(8), f(8), f(6), true, f(8), f(8))).to.throw(RangeError, /dy/);
  });
});

/** Whether the native kernels run in the tfjs graph (wasm backend); only BITNET_NO_NATIVE=1 may turn them off. */
async function nativeGraph(): Promise<boolean> {
  const choice = await useBackend('wasm');
  if (!choice.nativeMatmul) expect(process.env.BITNET_NO_NATIVE, 'the native kernels are not in use').to.equal('1');
  return choice.nativeMatmul === true;
}

/** f() with BITNET_UNFUSED_BITLINEAR set (the composition) or not (the fused kernel), unset after. */
function withUnfused<T>(unfused: boolean, f: () => T): T {
  process.env.BITNET_UNFUSED_BITLINEAR = unfused ? '1' : '0';
  try {
    return f();
  } finally {
    delete process.env.BITNET_UNFUSED_BITLINEAR;
  }
}

describe('train/ops: normQuantInput and gatedActivation in the tfjs graph', () => {
  it('normQuantInput: the values and row scales of rmsNorm then quantizeInput, and their gradients', async () => {
    if (!(await nativeGraph())) return;
    const rng = new Rng(83);
    const [n, d] = [12, 64];
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(n * d), 1.5), [n, d]);
    const w = tf.tensor1d(rng.fillNormal(new Float32Array(d), 1));
    const probe = tf.tensor2d(rng.fillNormal(new Float32Array(n * d), 1), [n, d]);
    for (const bits of [8, 4] as const) {
      const fused = normQuantInput(x, w, NORM_EPS, bits);
      const plain = quantizeInput(rmsNorm(x, w, NORM_EPS) as tf.Tensor2D, bits);
      expect(Array.from(fused.xq.dataSync())).to.deep.equal(Array.from(plain.xq.dataSync()));
      expect(fused.sx, 'row scales where the integer forward runs').to.not.equal(null);
      expect(Array.from(fused.sx!.dataSync())).to.deep.equal(Array.from(plain.sx!.dataSync()));
      const grads = (f: (a: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor1D), probe)))([x, w]).map((t) => t.dataSync() as Float32Array);
      const gf = grads((a, b) => normQuantInput(a, b, NORM_EPS, bits).xq);
      const gp = grads((a, b) => quantizeInput(rmsNorm(a, b, NORM_EPS) as tf.Tensor2D, bits).xq);
      expect(Array.from(gf[0]!)).to.deep.equal(Array.from(gp[0]!)); // the same kernel on the same dy
      expect(Array.from(gf[1]!)).to.deep.equal(Array.from(gp[1]!));
    }
    tf.dispose([x, w, probe]);
  });

  it('gatedActivation: values and gradients of the sigmoid-and-multiply composite, within float rounding', async () => {
    if (!(await nativeGraph())) return;
    const rng = new Rng(89);
    const [n, ff] = [16, 48];
    const gate = tf.tensor2d(rng.fillNormal(new Float32Array(n * ff), 2), [n, ff]);
    const up = tf.tensor2d(rng.fillNormal(new Float32Array(n * ff), 2), [n, ff]);
    const probe = tf.tensor2d(rng.fillNormal(new Float32Array(n * ff), 1), [n, ff]);
    for (const kind of ['swiglu', 'relu2'] as GatedActivation[]) {
      const run = (f: typeof gatedActivation) =>
        tf.tidy(() => {
          const y = f(gate, up, kind).dataSync() as Float32Array;
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor2D, kind), probe)))([gate, up]);
          return [y, ...g.map((t) => t.dataSync() as Float32Array)];
        });
      const fused = run(gatedActivation);
      const composite = run(gatedActivationComposite);
      ['out', 'dgate', 'dup'].forEach((name, i) => {
        const want = composite[i]!;
        const big = Math.max(...Array.from(want, Math.abs));
        for (let j = 0; j < want.length; j++)
          if (!(Math.abs(fused[i]![j]! - want[j]!) <= 1e-6 * big)) expect.fail(`${kind} ${name}[${j}]: ${fused[i]![j]} vs ${want[j]}`);
      });
    }
    tf.dispose([gate, up, probe]);
  });

  it('normBitLinears: the bits of normQuantInput then bitLinearLatent per weight, values and gradients, with nothing kept but x', async () => {
    if (!(await nativeGraph())) return;
    const rng = new Rng(97);
    const [n, d] = [24, 64];
    const x = tf.tensor2d(rng.fillNormal(new Float32Array(n * d), 1.5), [n, d]);
    const nw = tf.tensor1d(rng.fillNormal(new Float32Array(d), 1));
    const outs = [48, 32, 64];
    const ws = outs.map((o) => tf.tensor2d(rng.fillNormal(new Float32Array(o * d), 0.05), [o, d]));
    const probes = outs.map((o) => tf.tensor2d(rng.fillNormal(new Float32Array(n * o), 1), [n, o]));
    const cases: Array<{ m: number; bits: 8 | 4; g: Granularity; kind: 'ternary' | 'binary'; precision: MatmulPrecision }> = [
      { m: 3, bits: 8, g: { kind: 'tensor' }, kind: 'ternary', precision: 'fp32' },
      { m: 2, bits: 4, g: { kind: 'row' }, kind: 'binary', precision: 'fp32' },
      { m: 1, bits: 8, g: { kind: 'group', size: 32 }, kind: 'ternary', precision: 'bf16' },
      { m: 2, bits: 8, g: { kind: 'group', size: 2 }, kind: 'ternary', precision: 'fp32' }, // not whole quads: the composition runs
    ];
    for (const c of cases) {
      const run = (unfused: boolean) =>
        withUnfused(unfused, () =>
          tf.tidy(() => {
            const f = (a: tf.Tensor2D, b: tf.Tensor1D, w: tf.Tensor2D[]) => normBitLinears(a, b, w, NORM_EPS, c.bits, c.g, c.kind, c.precision);
            const ys = f(x, nw, ws.slice(0, c.m)).map((y) => y.dataSync() as Float32Array);
            const loss = (...a: tf.Tensor[]) => tf.addN(f(a[0] as tf.Tensor2D, a[1] as tf.Tensor1D, a.slice(2) as tf.Tensor2D[]).map((y, i) => tf.sum(tf.mul(y, probes[i]!))));
            const gs = tf.grads(loss)([x, nw, ...ws.slice(0, c.m)]).map((t) => t.dataSync() as Float32Array);
            return [...ys, ...gs];
          }),
        );
      const before = tf.memory().numTensors;
      const fused = run(false);
      expect(tf.memory().numTensors, 'tensors left behind').to.equal(before);
      const plain = run(true);
      expect(fused.length).to.equal(2 * c.m + 2);
      fused.forEach((v, i) => expect(Array.from(v), `${JSON.stringify(c)} output ${i}`).to.deep.equal(Array.from(plain[i]!)));
    }
    // the same values as the unfused ops with the fake-quant input spelled out (a check on the composition itself)
    const a = normQuantInput(x, nw, NORM_EPS, 8);
    const y0 = bitLinearLatent(a, ws[0]!, { kind: 'tensor' }, 'ternary');
    expect(Array.from(y0.dataSync())).to.deep.equal(Array.from(normBitLinears(x, nw, [ws[0]!], NORM_EPS, 8, { kind: 'tensor' }, 'ternary')[0]!.dataSync()));
    tf.dispose([x, nw, ...ws, ...probes, a.xq, a.sx ?? [], y0]);
  });

  it('in a whole model: the loss and every gradient of the composition, bit for bit, and fewer bytes held at the end of the forward', async () => {
    if (!(await nativeGraph())) return;
    for (const variant of [
      { weight_quant: 'ternary', act_quant: 'int8', activation: 'swiglu', subln: 'on', n_kv_heads: 2 },
      { weight_quant: 'binary', act_quant: 'int4', activation: 'relu2', subln: 'off', n_kv_heads: 4, weight_scale: 'row' },
    ] as const) {
      const cfg = ModelConfig.parse({ vocab_size: 64, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 128, context_length: 32, ...variant });
      const model = new BitNetModel(cfg, initParams(cfg));
      const [B, T] = [4, 32];
      const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 64);
      const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 3) % 64);
      const vars = [...model.vars.values()];
      const run = (unfused: boolean) =>
        withUnfused(unfused, () => {
          let held = 0;
          const r = variableGradsFreeing(() => {
            const loss = model.loss(ids, targets, B, T);
            held = tf.memory().numBytes; // what the tape keeps for the backward, at the end of the forward
            return loss;
          }, vars);
          const out = { loss: r.value.dataSync()[0]!, grads: new Map([...r.grads].map(([k, v]) => [k, Array.from(v.dataSync())])), held };
          tf.dispose([r.value, ...r.grads.values()]);
          return out;
        });
      const fused = run(false);
      const plain = run(true);
      expect(fused.loss).to.equal(plain.loss);
      expect(fused.held, 'bytes held at the end of the forward').to.be.below(plain.held);
      expect([...fused.grads.keys()]).to.deep.equal([...plain.grads.keys()]);
      for (const [k, g] of fused.grads) expect(g, k).to.deep.equal(plain.grads.get(k));
      model.dispose();
    }
  });
});
