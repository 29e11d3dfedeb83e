// eval: windows of the context length, every token after a window's first predicted, against the
// reference forward's log-likelihoods computed window by window.
import { expect } from 'chai';
import { loadPrepared } from '../../src/data/load.ts';
import { loadEngine } from '../../src/infer/engine.ts';
import { evaluate } from '../../src/infer/eval.ts';
import { Model } from '../../src/infer/model.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';
import { referenceForward, writeTinyModel } from './helpers.ts';

describe('infer/eval', function () {
  let dir: string;
  before(() => (dir = tmpDir('eval')));
  after(() => rmDir(dir));

  it('gives the mean NLL of the reference over non-overlapping windows, perplexity and bits per byte', async () => {
    const data = loadPrepared(await tinyData(dir, 'byte'));
    const { file, ref } = await writeTinyModel(dir, 'm.gguf', { vocab_size: 257, context_length: 64, n_layers: 1, seed: 2 });
    const tokens = data.val.subarray(0, 200); // windows of 64, 64, 64 and 8
    let nll = 0;
    let count = 0;
    for (let w0 = 0; w0 < tokens.length; w0 += 64) {
      const win = tokens.subarray(w0, w0 + 64);
      const logits = referenceForward(ref, win);
      for (let t = 0; t + 1 < win.length; t++) {
        const row = logits.subarray(t * 257, (t + 1) * 257);
        const z = row.reduce((a, v) => a + Math.exp(v), 0);
        nll += Math.log(z) - row[win[t + 1]!]!;
        count++;
      }
    }
    const e = loadEngine(file);
    expect(e.model.maxSeq).to.equal(64);
    // steps of 24 tokens: windows run in several chunks
    const r = evaluate(new Model(e.weights, { kernels: e.kernels, maxBatch: 24 }), tokens, data.valBytesPerToken);
    expect(r.tokens).to.equal(count).and.equal(200 - 4);
    expect(r.loss).to.be.closeTo(nll / count, 1e-5 * r.loss);
    expect(r.perplexity).to.be.closeTo(Math.exp(r.loss), 1e-9);
    expect(r.bits_per_byte).to.be.closeTo(r.loss / Math.LN2 / data.valBytesPerToken, 1e-12);
    expect(r.loss).to.be.greaterThan(Math.log(257) * 0.5); // random weights: near-uniform predictions
  });
});
