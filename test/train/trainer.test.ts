import { expect } from 'chai';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { InputError } from '../../src/errors.ts';
import { loadCheckpoint, listCheckpoints } from '../../src/train/checkpoint.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { readHosts } from '../../src/train/hosts.ts';
import os from 'node:os';
import { train } from '../../src/train/trainer.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';

describe('train/trainer', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  let vocab: number;

  before(async () => {
    dir = tmpDir('trainer');
    data = await tinyData(dir);
    vocab = (await import('../../src/data/load.ts')).loadPrepared(data).tokenizer.vocabSize;
  });
  after(() => rmDir(dir));

  it('resumes exactly: 2N straight steps and N, resume, N give the same loss at every step (1e-6)', async () => {
    const config = tinyConfig(vocab);
    const straight = await train({ config, dataDir: data, runDir: path.join(dir, 'straight'), resume: false });
    const staged = path.join(dir, 'staged');
    const first = await train({ config, dataDir: data, runDir: staged, resume: false, stopAfter: 3 });
    expect(first.step).to.equal(3);
    expect(existsSync(path.join(staged, 'DONE'))).to.equal(false);
    const second = await train({ config, dataDir: data, runDir: staged, resume: true });
    expect(second.step).to.equal(6);
    for (let s = 1; s <= 6; s++) {
      const a = straight.losses.get(s)!;
      const b = (s <= 3 ? first : second).losses.get(s)!;
      expect(Math.abs(a - b), `step ${s}: ${a} vs ${b}`).to.be.at.most(1e-6);
    }
    // Same weights at the end, and the metrics file holds each step once.
    const wa = loadCheckpoint(straight.checkpoint).weights;
    const wb = loadCheckpoint(second.checkpoint).weights;
    for (const [k, v] of wa) expect(Array.from(wb.get(k)!), k).to.deep.equal(Array.from(v));
    const rows = readMetrics(path.join(staged, 'metrics.arrow'));
    expect(rows.map((r) => r.step)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(existsSync(path.join(staged, 'DONE'))).to.equal(true);
    // Each segment recorded where it ran: a fresh start at step 0, the resume at step 3.
    const hosts = readHosts(staged);
    expect(hosts.map((h) => h.from_step)).to.deep.equal([0, 3]);
    expect(hosts[1]!.cores).to.equal(os.cpus().length);
    expect(hosts[1]!.native_isa).to.match(/^(none|scalar|avx2|avx512vnni)$/);
    expect(hosts[1]!.commit).to.match(/^([0-9a-f]{7,}(\+dirty)?|unknown)$/);
    // Loss goes down on this tiny corpus, and the health columns are filled for a ternary model.
    expect(rows[5]!.loss).to.be.below(rows[0]!.loss);
    expect(rows[2]!.val_loss).to.be.a('number').and.not.NaN;
    expect(rows[0]!.zero_frac).to.be.within(0.05, 0.95);
  });

  it('keeps the last K checkpoints and the best one', async () => {
    const run = path.join(dir, 'keep');
    await train({ config: tinyConfig(vocab, { train: { steps: 8, ckpt_every: 2, eval_every: 2, keep_last: 2 } }), dataDir: data, runDir: run, resume: false });
    const steps = listCheckpoints(run);
    expect(steps.slice(-2)).to.deep.equal([6, 8]);
    expect(steps.length).to.be.within(2, 3);
    expect(readdirSync(path.join(run, 'checkpoints')).every((d) => /^step-\d+$/.test(d))).to.equal(true);
  });

  it('refuses a run directory with checkpoints without --resume, and a resume with another model config', async () => {
    const run = path.join(dir, 'straight');
    try {
      await train({ config: tinyConfig(vocab), dataDir: data, runDir: run, resume: false });
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(InputError);
      expect((e as Error).message).to.match(/--resume/);
    }
    try {
      await train({ config: tinyConfig(vocab, { model: { d_ff: 768 } }), dataDir: data, runDir: run, resume: true });
      expect.fail('should throw');
    } catch (e) {
      expect((e as Error).message).to.match(/does not match/);
    }
  });

  it('CLI: bad config key, wrong type, bad head split and missing data: one line on stderr, exit 2', () => {
    const cfg = path.join(dir, 'bad.json');
    const cases: [unknown, string[], RegExp][] = [
      [{ model: { d_modle: 256 } }, [], /unknown key "d_modle"/],
      [{ model: { d_model: 'wide' } }, [], /model\.d_model/],
      [{ model: { d_model: 250, n_heads: 4 } }, [], /not divisible by n_heads/],
      [{}, ['--data', path.join(dir, 'nope')], /no such data directory/],
    ];
    for (const [body, extra, re] of cases) {
      writeFileSync(cfg, JSON.stringify({ data, ...(body as object) }));
      const r = spawnSync(process.execPath, ['bin/bitnet.js', 'train', '--config', cfg, '--out', path.join(dir, 'cli'), ...extra], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.match(re);
    }
  });
});
