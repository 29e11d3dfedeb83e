import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../../src/config/model.ts';
import { useBackend } from '../../src/train/backend.ts';
import { BitNetModel } from '../../src/train/model.ts';
import { initParams, paramSpecs } from '../../src/train/params.ts';

const ids = (n: number, V: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % V);

describe('train/model', () => {
  before(async () => {
    await useBackend('wasm');
  });

  for (const variant of [
    { weight_quant: 'ternary', act_quant: 'int8', activation: 'swiglu', subln: 'on', n_kv_heads: 2 },
    { weight_quant: 'binary', act_quant: 'int4', activation: 'relu2', subln: 'off', n_kv_heads: 4 },
    { weight_quant: 'fp', act_quant: 'none', activation: 'swiglu', subln: 'on', n_kv_heads: 1, tie_embeddings: false },
  ] as const) {
    it(`${variant.weight_quant}/${variant.act_quant}/${variant.activation}/subln ${variant.subln}: logits [B·T, V], every latent weight gets a gradient, no leak`, () => {
      const cfg = ModelConfig.parse({ vocab_size: 50, d_model: 32, n_layers: 2, n_heads: 4, d_ff: 64, context_length: 16, ...variant });
      const model = new BitNetModel(cfg, initParams(cfg));
      const B = 2;
      const T = 8;
      const x = ids(B * T, 50);
      const shape = tf.tidy(() => model.forward(x, B, T).shape); // also builds the cached RoPE tables
      expect(shape).to.deep.equal([B * T, 50]);
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => model.loss(x, ids(B * T, 50).reverse(), B, T));
      // Untrained: loss near ln(V).
      expect(value.dataSync()[0]).to.be.closeTo(Math.log(50), 0.5);
      const names = Object.keys(grads).map((k) => model.nameOf(k)).sort();
      expect(names).to.deep.equal(paramSpecs(cfg).map((s) => s.name).sort());
      for (const [k, g] of Object.entries(grads)) {
        const norm = tf.tidy(() => tf.norm(g).dataSync()[0]!);
        expect(norm, k).to.be.above(0);
        expect(Number.isFinite(norm), k).to.equal(true);
      }
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).to.equal(before);
      model.dispose();
    });
  }

  it('is causal: changing a later token does not change earlier logits', () => {
    const cfg = ModelConfig.parse({ vocab_size: 30, d_model: 32, n_layers: 1, n_heads: 2, n_kv_heads: 1, d_ff: 64, context_length: 16 });
    const model = new BitNetModel(cfg, initParams(cfg));
    const a = ids(8, 30);
    const b = a.slice();
    b[6] = (b[6]! + 5) % 30;
    const la = tf.tidy(() => model.forward(a, 1, 8).arraySync());
    const lb = tf.tidy(() => model.forward(b, 1, 8).arraySync());
    for (let t = 0; t < 6; t++) expect(lb[t]).to.deep.equal(la[t]);
    expect(lb[6]).to.not.deep.equal(la[6]);
    model.dispose();
  });
});
