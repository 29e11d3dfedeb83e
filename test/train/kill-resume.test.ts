import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { listCheckpoints, loadCheckpoint, checkpointDir } from '../../src/train/checkpoint.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { loadPrepared } from '../../src/data/load.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';

describe('train: SIGKILL, --resume, divergence', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  let vocab: number;

  before(async () => {
    dir = tmpDir('kill');
    data = await tinyData(dir);
    vocab = loadPrepared(data).tokenizer.vocabSize;
  });
  after(() => rmDir(dir));

  function config(file: string, train: Record<string, unknown>): string {
    writeFileSync(file, JSON.stringify({
      data,
      model: { vocab_size: vocab, d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 32 },
      train: { steps: 40, batch_size: 2, seq_len: 16, log_every: 1, eval_every: 1000, eval_batches: 1, ckpt_every: 2, keep_last: 2, backend: 'wasm', ...train },
    }));
    return file;
  }

  it('a run killed with SIGKILL mid-training resumes from its last checkpoint and finishes; no file is left corrupt', async () => {
    const run = path.join(dir, 'killed');
    const cfg = config(path.join(dir, 'kill.json'), {});
    const child = spawn(process.execPath, ['bin/bitnet.js', 'train', '--config', cfg, '--out', run], { stdio: 'ignore' });
    // Kill it as soon as it has written a few checkpoints (mid-save is likely at this cadence).
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (listCheckpoints(run).some((s) => s >= 6)) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => (clearInterval(t), reject(new Error('the run finished before it could be killed'))));
    });
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(path.join(run, 'DONE'))).to.equal(false);
    const last = listCheckpoints(run).at(-1)!;
    // Every complete checkpoint loads; the metrics file parses.
    for (const s of listCheckpoints(run)) expect(loadCheckpoint(checkpointDir(run, s)).state.step).to.equal(s);
    expect(readMetrics(path.join(run, 'metrics.arrow')).length).to.be.at.least(last);

    const r = spawnSync(process.execPath, ['bin/bitnet.js', 'train', '--out', run, '--resume'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const [first, second] = r.stdout.split('\n');
    expect(first).to.match(new RegExp(`^resumed at step ${last} on `));
    expect(second).to.match(new RegExp(`^step ${last + 1}/40`));
    expect(existsSync(path.join(run, 'DONE'))).to.equal(true);
    const steps = readMetrics(path.join(run, 'metrics.arrow')).map((x) => x.step);
    expect(steps).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(readdirSync(path.join(run, 'checkpoints')).filter((d) => d.includes('tmp'))).to.deep.equal([]);
  });

  it('a NaN/Inf loss stops the run with one clear line; the last good checkpoint stays intact', () => {
    const run = path.join(dir, 'diverged');
    // An absurd learning rate with no clipping blows the weights up within a few steps.
    const cfg = config(path.join(dir, 'nan.json'), { lr: { kind: 'constant', peak: 1e9, warmup: 0 }, grad_clip: 0, ckpt_every: 1, steps: 30 });
    const r = spawnSync(process.execPath, ['bin/bitnet.js', 'train', '--config', cfg, '--out', run], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).to.equal(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/diverged at step (\d+) \((loss|gradient norm) (NaN|Infinity|-Infinity)\); the last good checkpoint is .*step-\d+/);
    const failedAt = Number(/step (\d+)/.exec(lines[0]!)![1]);
    const last = listCheckpoints(run).at(-1)!;
    expect(last).to.equal(failedAt - 1);
    const ck = loadCheckpoint(checkpointDir(run, last));
    for (const w of ck.weights.values()) expect(w.every(Number.isFinite)).to.equal(true);
  });
});
