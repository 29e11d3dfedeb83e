/**
 * Warm starts (train.init_from, `bitnet train --init-from`): a fresh run takes another run's weights,
 * into a model whose quantization differs; moments kept or reset; a source of another shape or other
 * data is refused naming train.init_from; "study:ARM" resolves to the same seed of another arm.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../src/errors.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { initFromPath } from '../../src/train/init-from.ts';
import { train } from '../../src/train/trainer.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';

describe('train/init-from: warm starts', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  let vocab: number;
  let fpRun: string;

  before(async () => {
    dir = tmpDir('init-from');
    data = await tinyData(dir);
    vocab = (await import('../../src/data/load.ts')).loadPrepared(data).tokenizer.vocabSize;
    fpRun = path.join(dir, 'fp');
    await train({ config: tinyConfig(vocab, { model: { weight_quant: 'fp', act_quant: 'none' }, train: { steps: 12 } }), dataDir: data, runDir: fpRun, resume: false });
  });
  after(() => rmDir(dir));

  it('a ternary run started from an fp run begins from its weights (first loss far below a fresh start\'s)', async () => {
    const ternary = tinyConfig(vocab, { train: { steps: 3 } });
    const fresh = await train({ config: ternary, dataDir: data, runDir: path.join(dir, 'fresh'), resume: false });
    const lines: string[] = [];
    const warm = await train({ config: { ...ternary, train: { ...ternary.train, init_from: { run: fpRun, moments: 'reset' } } }, dataDir: data, runDir: path.join(dir, 'warm'), resume: false, log: (l) => lines.push(l) });
    expect(lines[0]).to.match(/^warm start from .*fp\/checkpoints\/step-12 \(step 12, \d+ tokens; AdamW moments reset\)$/);
    expect(warm.losses.get(1)!).to.be.below(fresh.losses.get(1)! - 0.3);
    // moments reset: AdamW counts only this run's steps; kept: it continues the source's count
    expect(loadCheckpoint(warm.checkpoint).state.adam_t).to.equal(3);
    const kept = await train({ config: { ...ternary, train: { ...ternary.train, init_from: { run: fpRun, moments: 'keep' } } }, dataDir: data, runDir: path.join(dir, 'kept'), resume: false });
    expect(loadCheckpoint(kept.checkpoint).state.adam_t).to.equal(15);
  });

  it('refuses a source of another shape or other data, naming train.init_from', async () => {
    const wide = tinyConfig(vocab, { model: { d_ff: 768 }, train: { steps: 2, init_from: { run: fpRun, moments: 'reset' } } });
    const err = await train({ config: wide, dataDir: data, runDir: path.join(dir, 'wide'), resume: false }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(InputError);
    expect((err as Error).message).to.match(/^train\.init_from: .* has other parameters than this model \(blk\.0\.ffn_gate\.weight\[768,256\] vs blk\.0\.ffn_gate\.weight\[512,256\]\): only the quantization may differ$/);
    // the same vocabulary size (so the shapes match) but other prepared data
    mkdirSync(path.join(dir, 'o'));
    const other = await tinyData(path.join(dir, 'o'), 'bpe', 320);
    const statsFile = path.join(other, 'stats.json');
    writeFileSync(statsFile, readFileSync(statsFile, 'utf8').replace('"val_fraction": 0.25', '"val_fraction": 0.2500001'));
    const c = tinyConfig(vocab, { train: { steps: 2, init_from: { run: fpRun, moments: 'reset' } } });
    const e2 = await train({ config: c, dataDir: other, runDir: path.join(dir, 'other'), resume: false }).then(() => null, (e: unknown) => e);
    expect((e2 as Error).message).to.match(/^train\.init_from: .* was trained on other data/);
  });

  it('"study:ARM" is the same seed of another arm; the CLI flag names a missing run in one line', () => {
    expect(initFromPath('study:fp-half', '/s/runs/ternary/seed-3')).to.equal('/s/runs/fp-half/seed-3');
    expect(initFromPath('runs/x', '/s/runs/a/seed-1')).to.equal('runs/x');
    const r = spawnSync(process.execPath, ['bin/bitnet.js', 'train', '--data', data, '--out', path.join(dir, 'cli'), '--steps', '2', '--init-from', path.join(dir, 'nope')], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/^bitnet: .*nope: no such run or checkpoint\n$/);
  });
});
