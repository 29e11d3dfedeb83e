// src/train/backprop.ts variableGradsFreeing against tf.variableGrads on the model: the same gradient
// bits for every variable in every model variant, no tensor left behind, and a lower peak of tensor
// memory (it frees saved tensors and intermediate gradients as it goes); on toy graphs the cases a
// gradient function can make awkward (its dy handed back, one tensor for two inputs, a variable f does
// not reach, a nested gradient).
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { ModelConfig } from '../../src/config/model.ts';
import { variableGradsFreeing } from '../../src/train/backprop.ts';
import { useBackend } from '../../src/train/backend.ts';
import { BitNetModel } from '../../src/train/model.ts';
import { initParams } from '../../src/train/params.ts';

const ids = (n: number, V: number, a: number) => Int32Array.from({ length: n }, (_, i) => (i * a + 3) % V);

/**
 * The most bytes of tensor data the wasm backend held at once while `f` ran (its allocations and
 * frees, watched by wrapping its move and disposeData). tf.profile's peakBytes counts a buffer once per
 * tensor sharing it (reshapes, the shared Identity), so it cannot see buffers freed.
 */
function peakLiveBytes(f: () => void): number {
  const be = tf.backend() as unknown as {
    move(id: object, v: unknown, shape: number[], dtype: string, rc: number): void;
    disposeData(id: object, force?: boolean): boolean;
    dataIdMap: { has(id: object): boolean };
  };
  const [move, dispose] = [be.move, be.disposeData];
  const sizes = new Map<object, number>();
  let live = 0;
  let peak = 0;
  be.move = function (id, v, shape, dtype, rc) {
    move.call(this, id, v, shape, dtype, rc);
    const n = shape.reduce((p, q) => p * q, 1) * 4;
    sizes.set(id, n);
    live += n;
    peak = Math.max(peak, live);
  };
  be.disposeData = function (id, force) {
    const r = dispose.call(this, id, force);
    if (!be.dataIdMap.has(id) && sizes.has(id)) {
      live -= sizes.get(id)!;
      sizes.delete(id);
    }
    return r;
  };
  try {
    f();
  } finally {
    [be.move, be.disposeData] = [move, dispose];
  }
  return peak;
}

describe('train/backprop: variableGradsFreeing', () => {
  before(async () => {
    await useBackend('wasm');
  });

  for (const variant of [
    { weight_quant: 'ternary', act_quant: 'int8', activation: 'swiglu', subln: 'on', n_kv_heads: 2 },
    { weight_quant: 'binary', act_quant: 'int4', activation: 'relu2', subln: 'off', n_kv_heads: 4, weight_scale: 'row' },
    { weight_quant: 'fp', act_quant: 'none', activation: 'swiglu', subln: 'on', n_kv_heads: 1, tie_embeddings: false },
  ] as const) {
    it(`${variant.weight_quant}/${variant.act_quant}/${variant.activation}: tf.variableGrads's bits for every variable, no leak, under 70 % of its peak memory`, () => {
      const cfg = ModelConfig.parse({ vocab_size: 64, d_model: 64, n_layers: 2, n_heads: 4, d_ff: 128, context_length: 32, ...variant });
      const model = new BitNetModel(cfg, initParams(cfg));
      const [B, T] = [4, 32];
      const x = ids(B * T, 64, 7);
      const y = ids(B * T, 64, 5);
      const vars = [...model.vars.values()];
      tf.tidy(() => model.forward(x, B, T)); // the cached RoPE tables, before counting tensors
      const before = tf.memory().numTensors;
      let plain: { value: tf.Scalar; grads: Map<string, tf.Tensor> } | null = null;
      const plainPeak = peakLiveBytes(() => {
        const r = tf.variableGrads(() => model.loss(x, y, B, T), vars);
        plain = { value: r.value, grads: new Map(Object.entries(r.grads)) };
      });
      let freeing: { value: tf.Scalar; grads: Map<string, tf.Tensor> } | null = null;
      const freeingPeak = peakLiveBytes(() => {
        freeing = variableGradsFreeing(() => model.loss(x, y, B, T), vars);
      });
      const p = plain!;
      const q = freeing!;
      expect(q.value.dataSync()[0]).to.equal(p.value.dataSync()[0]);
      expect([...q.grads.keys()].sort()).to.deep.equal([...p.grads.keys()].sort());
      expect(q.grads.size).to.equal(vars.length);
      for (const [name, g] of p.grads) expect(Array.from(q.grads.get(name)!.dataSync()), name).to.deep.equal(Array.from(g.dataSync()));
      const held = 2 * (1 + vars.length); // each call's value and gradients
      expect(tf.memory().numTensors).to.equal(before + held);
      expect(freeingPeak, 'peak bytes of tensor data held at once').to.be.below(0.7 * plainPeak);
      tf.dispose([p.value, q.value, ...p.grads.values(), ...q.grads.values()]);
      expect(tf.memory().numTensors).to.equal(before);
      model.dispose();
    });
  }

  it('toy graphs: a gradient that hands back its dy, one tensor for two inputs, an unreached variable, a nested gradient', () => {
    const a = tf.variable(tf.tensor1d([1, -2, 3]), true, 'bp-a');
    const b = tf.variable(tf.tensor1d([0.5, 4, -1]), true, 'bp-b');
    const unused = tf.variable(tf.tensor1d([7]), true, 'bp-unused');
    // dy straight back to both inputs, the same object twice
    const sameTwice = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: tf.add(args[0] as tf.Tensor, args[1] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => [dy, dy],
    }));
    const f = () => tf.sum(tf.mul(sameTwice(tf.mul(a, b), a) as tf.Tensor, tf.add(a, 1))) as tf.Scalar;
    const before = tf.memory().numTensors;
    const want = tf.variableGrads(f, [a, b, unused]);
    const got = variableGradsFreeing(f, [a, b, unused]);
    expect(got.value.dataSync()[0]).to.equal(want.value.dataSync()[0]);
    expect([...got.grads.keys()].sort()).to.deep.equal(Object.keys(want.grads).sort());
    expect(got.grads.has('bp-unused')).to.equal(false);
    for (const [k, g] of got.grads) expect(Array.from(g.dataSync()), k).to.deep.equal(Array.from(want.grads[k]!.dataSync()));
    tf.dispose([want.value, got.value, ...Object.values(want.grads), ...got.grads.values()]);
    expect(tf.memory().numTensors).to.equal(before);
    // inside another gradient (second order): the outer tape is left alone, and the result is tfjs's
    const outer = (impl: 'tf' | 'freeing') =>
      tf.tidy(() => {
        const g = tf.grad((t: tf.Tensor) => {
          const inner = () => tf.sum(tf.mul(tf.mul(a, a), t)) as tf.Scalar;
          const r = impl === 'tf' ? tf.variableGrads(inner, [a]).grads['bp-a']! : variableGradsFreeing(inner, [a]).grads.get('bp-a')!;
          return tf.sum(tf.mul(r, t));
        })(tf.tensor1d([1, 2, 3]));
        return Array.from(g.dataSync());
      });
    expect(outer('freeing')).to.deep.equal(outer('tf'));
    expect(() => variableGradsFreeing(() => tf.add(a, 1) as unknown as tf.Scalar, [a])).to.throw(/scalar/);
    tf.dispose([a, b, unused]);
  });
});
