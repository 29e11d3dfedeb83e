import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js'; // tfjs-core alone registers no gradients (sum, mul)
import { fakeQuantActivations } from '../../src/quant/activations.ts';
import { Rng } from '../../src/data/rng.ts';
import {
  actQuantForward, binaryCodesTf, binaryForward, steActQuant, steBinary, steTernary, ternaryCodesTf, ternaryForward,
} from '../../src/quant/ste.ts';
import { dequantize, quantizeBinary, quantizeTernary, type Granularity } from '../../src/quant/weights.ts';

const GRANULARITIES: Granularity[] = [{ kind: 'tensor' }, { kind: 'row' }, { kind: 'group', size: 4 }];

function randomMatrix(seed: number, rows: number, cols: number, std: number): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(rows * cols), std);
}

/** Runs `body` with tfjs on `backend` and checks that it leaves no tensor behind. */
function noLeak(body: () => void): void {
  const before = tf.memory().numTensors;
  body();
  expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`quant/ste on ${backend}`, () => {
    before(async () => {
      expect(await tf.setBackend(backend)).to.equal(true);
      await tf.ready();
      expect(tf.getBackend()).to.equal(backend);
    });

    it('rounds halves to even, like roundHalfEven', () => {
      noLeak(() => {
        const r = tf.tidy(() => tf.round(tf.tensor1d([0.5, 1.5, 2.5, -0.5, -1.5, -2.5])).arraySync());
        expect(r.map((v) => v + 0)).to.deep.equal([0, 2, 2, 0, -2, -2]);
      });
    });

    it('gives the typed-array activation values exactly (int8 and int4)', () => {
      noLeak(() => {
        for (const bits of [8, 4] as const) {
          const x = randomMatrix(7 + bits, 5, 12, 3);
          x[3] = 0; // a zero and an all-zero row: the ε path
          x.fill(0, 12, 24);
          const want = fakeQuantActivations(x, 12, bits);
          const got = tf.tidy(() => actQuantForward(tf.tensor2d(x, [5, 12]), bits).dataSync());
          // === rather than deep equality: tfjs may give −0 where the typed path gives +0
          for (let i = 0; i < x.length; i++) expect(got[i] === want[i], `int${bits} [${i}]: ${got[i]} vs ${want[i]}`).to.equal(true);
          // and on a rank-3 input, per last-axis row
          const got3 = tf.tidy(() => steActQuant(tf.tensor3d(x, [5, 2, 6]), bits).dataSync());
          const want3 = fakeQuantActivations(x, 6, bits);
          for (let i = 0; i < x.length; i++) expect(got3[i] === want3[i]).to.equal(true);
        }
      });
    });

    // Codes must be identical. β is the mean of |W| over a granule of n weights: the typed path (and
    // tfjs's cpu backend) sums in double and rounds once, the wasm backend sums in float32, whose
    // error for n non-negative terms is at most (n − 1)·2^-24 of the sum. That bound is the truth for
    // wasm; on cpu the graph is the same ops in the same order and β is equal to the bit.
    for (const [name, typed, tfjs] of [
      ['ternary', quantizeTernary, ternaryCodesTf],
      ['binary', quantizeBinary, binaryCodesTf],
    ] as const) {
      it(`gives the typed-array ${name} codes, and β equal (cpu) or within (n−1)·2^-24 (wasm)`, () => {
        noLeak(() => {
          for (const [k, g] of GRANULARITIES.entries()) {
            const [rows, cols] = [6, 16];
            const w = randomMatrix(100 + k, rows, cols, 0.02);
            const q = typed(w, rows, cols, g);
            const n = g.kind === 'tensor' ? rows * cols : g.kind === 'row' ? cols : g.size;
            tf.tidy(() => {
              const r = tfjs(tf.tensor2d(w, [rows, cols]), g);
              // + 0 folds the −0 that tfjs's round gives for a small negative W into the Int8Array's 0
              expect(Array.from(r.codes.dataSync(), (v) => v + 0), `${name} ${g.kind}`).to.deep.equal(Array.from(q.codes));
              const scales = r.scales.dataSync();
              expect(scales.length).to.equal(q.scales.length);
              for (let i = 0; i < scales.length; i++) {
                if (backend === 'cpu') expect(scales[i]).to.equal(q.scales[i]);
                else expect(Math.abs(scales[i]! - q.scales[i]!)).to.be.at.most((n - 1) * 2 ** -24 * q.scales[i]!);
              }
              const values = (name === 'ternary' ? ternaryForward : binaryForward)(tf.tensor2d(w, [rows, cols]), g).dataSync();
              const want = dequantize(q);
              if (backend === 'cpu') expect(Array.from(values, (v) => v + 0)).to.deep.equal(Array.from(want, (v) => v + 0));
            });
          }
        });
      });
    }

    it('passes the gradient through unchanged: d/dw sum(q(w)·g) = g', () => {
      noLeak(() => {
        const w = tf.tensor2d(randomMatrix(5, 4, 8, 0.1), [4, 8]);
        const g = tf.tensor2d(randomMatrix(6, 4, 8, 1), [4, 8]);
        const x = tf.tensor3d(randomMatrix(8, 2, 16, 1), [2, 2, 8]);
        const gx = tf.tensor3d(randomMatrix(9, 2, 16, 1), [2, 2, 8]);
        const want = g.dataSync();
        for (const gran of GRANULARITIES) {
          for (const f of [steTernary, steBinary]) {
            const dw = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v as tf.Tensor2D, gran), g)))(w);
            expect(Array.from(dw.dataSync())).to.deep.equal(Array.from(want));
            dw.dispose();
          }
        }
        for (const bits of [8, 4] as const) {
          const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(steActQuant(v, bits), gx)))(x);
          expect(Array.from(dx.dataSync())).to.deep.equal(Array.from(gx.dataSync()));
          dx.dispose();
        }
        // whereas through the plain forward round has a zero gradient and only β's dependence on w is
        // left: not g, which is why the STE is mandatory
        const dz = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(ternaryForward(v as tf.Tensor2D, { kind: 'row' }), g)))(w);
        expect(Array.from(dz.dataSync())).to.not.deep.equal(Array.from(want));
        dz.dispose();
        tf.dispose([w, g, x, gx]);
      });
    });

    it('forwards the fake-quant value itself (not v + (q − v), rounded twice)', () => {
      noLeak(() => {
        const w = randomMatrix(11, 3, 8, 0.05);
        const got = tf.tidy(() => steTernary(tf.tensor2d(w, [3, 8]), { kind: 'row' }).dataSync());
        const want = tf.tidy(() => ternaryForward(tf.tensor2d(w, [3, 8]), { kind: 'row' }).dataSync());
        expect(Array.from(got)).to.deep.equal(Array.from(want));
      });
    });
  });
}
