/**
 * The spine of the project: the training forward (tfjs, fake-quant) and the engine (packed ternary
 * weights, integer accumulation) must agree on the same checkpoint. The tfjs side uses the weights
 * exactly as the file stores them (fp16 scales and embeddings), and its BitLinears compute the engine's
 * integer sums with the engine's rescale, so what remains is the float rounding of the other ops.
 */
import { expect } from 'chai';
import path from 'node:path';
import { loadPrepared } from '../../src/data/load.ts';
import { loadEngine } from '../../src/infer/engine.ts';
import { nativeStatus } from '../../src/native/addon.ts';
import { useBackend } from '../../src/train/backend.ts';
import { loadCheckpoint, resolveCheckpoint } from '../../src/train/checkpoint.ts';
import { exportCheckpoint } from '../../src/train/export-checkpoint.ts';
import { logitsAsStored, sampleIds, storedModel, type StoredModel } from '../../src/train/sample.ts';
import { train } from '../../src/train/trainer.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';

function reference(run: string): StoredModel {
  const { state, weights } = loadCheckpoint(resolveCheckpoint(run), { moments: false });
  return storedModel(state.config.model, weights, 'f16');
}

function argmax(a: Float32Array, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i]! > a[off + best]!) best = i;
  return best;
}

/** Mean next-token cross-entropy (nats) of `ids` under logits [T, V]. */
function crossEntropy(logits: Float32Array, ids: Int32Array, V: number): number {
  let sum = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    let m = -Infinity;
    for (let j = 0; j < V; j++) m = Math.max(m, logits[t * V + j]!);
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[t * V + j]! - m);
    sum += m + Math.log(z) - logits[t * V + ids[t + 1]!]!;
  }
  return sum / (ids.length - 1);
}

describe('parity: tfjs training forward vs the engine, on trained checkpoints', function () {
  this.timeout(600_000);
  let dir: string;
  let data: string;
  let val: Int32Array;
  let vocab: number;
  const engines = nativeStatus().loaded ? (['native', 'ts'] as const) : (['ts'] as const);

  before(async () => {
    await useBackend('wasm');
    dir = tmpDir('parity');
    data = await tinyData(dir);
    const p = loadPrepared(data);
    val = p.val;
    vocab = p.tokenizer.vocabSize;
  });
  after(() => rmDir(dir));

  const variants: { name: string; model: Record<string, unknown>; type: 'tq2_0' | 'tq1_0'; tol?: number; lossTol?: number }[] = [
    { name: 'ternary, per-tensor, int8, SwiGLU, GQA (the b1.58 recipe) as TQ2_0', model: {}, type: 'tq2_0' },
    { name: 'ternary as TQ1_0', model: { seed: 11 }, type: 'tq1_0' },
    // d_model 128 / 192: the linears TQ blocks cannot hold are I8 codes with F32 scales (src/format/export.ts)
    { name: 'ternary, d_model 128 (I8 linears beside TQ2_0 ffn_down)', model: { d_model: 128, d_ff: 512, n_heads: 4, n_kv_heads: 2 }, type: 'tq2_0' },
    { name: 'binary, per-row, d_model 192 and d_ff 320 (all linears I8)', model: { d_model: 192, d_ff: 320, n_heads: 4, n_kv_heads: 2, weight_quant: 'binary', weight_scale: 'row' }, type: 'tq2_0' },
    { name: 'binary, per-row scales, ReLU²', model: { weight_quant: 'binary', weight_scale: 'row', activation: 'relu2', n_kv_heads: 4 }, type: 'tq2_0' },
    // At 4 bits one activation code step is 1/7 of the token's max. The BitLinears themselves now agree to
    // the bit (training's forward runs the engine's integer sums: test/train/bitlinear.test.ts), but the
    // norms, RoPE and attention still differ in their last float bits (float32 in tfjs, double in the
    // engine), which flips a code whenever a value sits within ~1e-7 of a rounding boundary (it depends on
    // the trained weights); a flip moves the logits of every later position by up to a few percent. int8
    // flips move them by under 1e-3 (worst seen 2.8e-4 with the float BitLinear, 1.4e-4 with the integer
    // one; without a flip the worst is ~1e-6, float rounding).
    { name: 'ternary, groups of 64, int4 activations, SubLN off', model: { weight_scale: 'group:64', act_quant: 'int4', subln: 'off' }, type: 'tq2_0', tol: 5e-2, lossTol: 5e-3 },
  ];

  for (const v of variants)
    it(`${v.name}: logits within ${v.tol ?? 1e-3}·max|logit| at all 64 positions, 32 greedy tokens identical, loss within ${(v.lossTol ?? 1e-3) * 100}%`, async () => {
      const run = path.join(dir, v.name.replace(/[^a-z0-9]+/gi, '-'));
      await train({ config: tinyConfig(vocab, { model: v.model, train: { steps: 8, ckpt_every: 8, eval_every: 8, lr: { kind: 'constant', peak: 5e-3, warmup: 2 } } }), dataDir: data, runDir: run, resume: false });
      const gguf = path.join(run, 'model.gguf');
      await exportCheckpoint(run, { type: v.type, out: gguf });
      const ref = reference(run);
      const tol = v.tol ?? 1e-3;
      const V = vocab;
      const T = 64;
      const ids = val.slice(0, T);
      const want = logitsAsStored(ref.model, ref.frozen, ids);
      const greedyRef = sampleIds(ref.model, ref.frozen, ids.slice(0, 8), { maxTokens: 32, temperature: 0, topK: 0, seed: 1 }, -1);
      for (const which of engines) {
        const e = loadEngine(gguf, { engine: which });
        try {
          const got = new Float32Array(T * V);
          e.model.reset();
          e.model.forward(ids, got);
          const over: string[] = [];
          let worst = 0;
          for (let t = 0; t < T; t++) {
            let maxAbs = 0;
            let maxDiff = 0;
            for (let j = 0; j < V; j++) {
              maxAbs = Math.max(maxAbs, Math.abs(want[t * V + j]!));
              maxDiff = Math.max(maxDiff, Math.abs(want[t * V + j]! - got[t * V + j]!));
            }
            worst = Math.max(worst, maxDiff / maxAbs);
            if (maxDiff > tol * maxAbs) over.push(`position ${t}: max diff ${maxDiff.toExponential(2)} vs max |logit| ${maxAbs.toFixed(3)}`);
          }
          console.log(`      ${which}: worst relative diff ${worst.toExponential(2)}, positions over ${tol}: ${over.length}`);
          expect(over, `${which} engine`).to.deep.equal([]);
          const lossRef = crossEntropy(want, ids, V);
          const lossEng = crossEntropy(got, ids, V);
          expect(Math.abs(lossEng - lossRef) / lossRef, `${which}: loss ${lossEng} vs ${lossRef}`).to.be.at.most(v.lossTol ?? 1e-3);
          // Greedy decoding with the KV cache, one token at a time, after an 8-token prompt.
          e.model.reset();
          let last = e.model.forward(ids.slice(0, 8));
          const greedy: number[] = [];
          for (let i = 0; i < 32; i++) {
            const id = argmax(last, 0, V);
            greedy.push(id);
            last = e.model.forward([id]);
          }
          expect(greedy, `${which} engine greedy`).to.deep.equal(greedyRef.slice(0, 32));
        } finally {
          e.close();
        }
      }
      ref.dispose();
    });
});
