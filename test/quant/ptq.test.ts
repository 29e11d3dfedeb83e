/**
 * Post-training quantization (src/quant/ptq.ts, `bitnet quantize`): the schemes by hand, their bits per
 * weight, and the evaluation on a trained fp run against its own final validation loss.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { dequantize, quantizeTernary } from '../../src/quant/weights.ts';
import { parsePtqScheme, ptqBitsPerWeight, ptqDequantize } from '../../src/quant/ptq.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { evaluatePtq } from '../../src/train/ptq-eval.ts';
import { train } from '../../src/train/trainer.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';

describe('quant/ptq: round-to-nearest after training', function () {
  this.timeout(300_000);

  it('parses ternary, binary, int4:G and int8, nothing else', () => {
    expect(parsePtqScheme('int4:32')).to.deep.equal({ kind: 'int', bits: 4, group: 32 });
    expect(parsePtqScheme('int8')).to.deep.equal({ kind: 'int', bits: 8, group: 'row' });
    for (const bad of ['int4', 'int4:0', 'int3', 'int8:32', 'Ternary', '']) expect(parsePtqScheme(bad), bad).to.equal(null);
  });

  it('int4 per group by hand: s = max|w|/7, codes rounded half to even and clamped to [-8, 7]', () => {
    const w = Float32Array.from([0.7, -0.35, 0.1, -0.7, 0.2, 0.05, -0.05, 0.1]);
    const q = ptqDequantize(w, 1, 8, { kind: 'int', bits: 4, group: 4 });
    const s1 = Math.fround(0.7 / 7);
    const s2 = Math.fround(Math.fround(0.2) / 7);
    // -0.35 / 0.1 = -3.5 (to float) -> -4 (half to even); 0.05 / (0.2/7) = 1.75 -> 2
    expect(Array.from(q)).to.deep.equal([7 * s1, -4 * s1, 1 * s1, -7 * s1, 7 * s2, 2 * s2, -2 * s2, 4 * s2].map(Math.fround));
  });

  it('int8 per row and ternary per tensor; bits per weight count codes and fp16 scales', () => {
    const w = Float32Array.from([1, -0.5, 0.25, 0, 2, -2, 1, 0.5]);
    const q8 = ptqDequantize(w, 2, 4, { kind: 'int', bits: 8, group: 'row' });
    expect(q8[1]).to.be.closeTo(-0.5, 1 / 127);
    expect(q8[4]).to.equal(2);
    expect(Array.from(ptqDequantize(w, 2, 4, { kind: 'ternary' }))).to.deep.equal(Array.from(dequantize(quantizeTernary(w, 2, 4, { kind: 'tensor' }))));
    expect(ptqBitsPerWeight({ kind: 'int', bits: 4, group: 32 }, 256, 256)).to.equal(4.5);
    expect(ptqBitsPerWeight({ kind: 'int', bits: 4, group: 128 }, 256, 256)).to.equal(4.125);
    expect(ptqBitsPerWeight({ kind: 'int', bits: 8, group: 'row' }, 256, 256)).to.equal(8.0625);
  });

  describe('on a trained fp run', () => {
    let dir: string;
    let run: string;
    before(async () => {
      dir = tmpDir('ptq');
      const data = await tinyData(dir);
      const vocab = (await import('../../src/data/load.ts')).loadPrepared(data).tokenizer.vocabSize;
      run = path.join(dir, 'fp');
      await train({ config: tinyConfig(vocab, { model: { weight_quant: 'fp', act_quant: 'none' }, train: { steps: 12, eval_every: 12 } }), dataDir: data, runDir: run, resume: false });
    });
    after(() => rmDir(dir));

    it('unquantized it reproduces the run\'s own final validation loss; int8 stays close, ternary loses more', async () => {
      const own = readMetrics(path.join(run, 'metrics.arrow')).filter((m) => Number.isFinite(m.val_loss)).at(-1)!.val_loss;
      const int8 = await evaluatePtq(run, { kind: 'int', bits: 8, group: 'row' });
      expect(int8.fp_val_loss).to.be.closeTo(own, 1e-5);
      expect(int8.val_loss).to.be.closeTo(own, 0.01);
      const ternary = await evaluatePtq(run, { kind: 'ternary' });
      expect(ternary.val_loss).to.be.greaterThan(int8.val_loss);
      expect(ternary.bits_per_weight).to.be.closeTo(Math.log2(3), 1e-3);
      expect(ternary.eval_tokens).to.equal(1 * 2 * 32); // the tiny config's one eval batch of 2 x 32
    });

    it('the CLI refuses a bad scheme and a quantized run in one line', () => {
      const r = spawnSync(process.execPath, ['bin/bitnet.js', 'quantize', run, '--to', 'int3'], { encoding: 'utf8' });
      expect(r.status).to.equal(2);
      expect(r.stderr).to.equal('bitnet: --to: "int3" is not ternary, binary, int4:G (G a positive integer) or int8\n');
      const j = spawnSync(process.execPath, ['bin/bitnet.js', 'quantize', run, '--to', 'int4:32', '--json'], { encoding: 'utf8' });
      expect(j.status, j.stderr).to.equal(0);
      expect(JSON.parse(j.stdout).bits_per_weight).to.be.closeTo(4.5, 1e-9);
    });
  });
});
