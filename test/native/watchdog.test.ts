/**
 * No silent hangs (src/native/watchdog.ts): with a kernel made to hang by a test-only switch
 * (BITNET_TEST_STALL_POOL_RUN=N: the N-th thread-pool run never returns, as the old pool's lost
 * completion never did), a training run, an engine evaluation and a benchmark each end within seconds
 * with one stderr line naming what was stuck and exit code 124; a study records the hung run as FAILED
 * after retrying it. A healthy run under a short limit is not stopped, and a bad limit is a one-line error.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadPrepared } from '../../src/data/load.ts';
import { nativeStatus } from '../../src/native/addon.ts';
import { WATCHDOG_EXIT_CODE } from '../../src/native/watchdog.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';

const BIN = path.resolve('bin/bitnet.js');

function bitnet(args: string[], env: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { ...r, seconds: (Date.now() - t0) / 1000 };
}

describe('native watchdog: a stalled kernel ends the command with one line, not a silent hang', function () {
  this.timeout(300_000);
  if (process.env.BITNET_NO_NATIVE === '1') return;
  let dir: string;
  let data: string;
  let config: string;
  let model: string;
  const stall = (n: number) => ({ BITNET_TEST_STALL_POOL_RUN: String(n), BITNET_WATCHDOG_S: '2' });

  before(async () => {
    expect(nativeStatus().loaded, nativeStatus().reason).to.equal(true);
    dir = tmpDir('watchdog');
    data = await tinyData(dir);
    const vocab = loadPrepared(data).tokenizer.vocabSize;
    config = path.join(dir, 'tiny.json');
    writeFileSync(config, JSON.stringify({
      data,
      model: { vocab_size: vocab, d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 32 },
      train: { steps: 30, batch_size: 2, seq_len: 16, log_every: 5, eval_every: 10, eval_batches: 1, ckpt_every: 10, backend: 'wasm' },
    }));
    // A healthy run under a short limit is not stopped; its export is the model of the engine tests.
    const t = bitnet(['train', '--config', config, '--out', path.join(dir, 'healthy'), '--steps', '12'], { BITNET_WATCHDOG_S: '5' });
    expect(t.status, t.stderr).to.equal(0);
    model = path.join(dir, 'healthy', 'model.gguf');
    const e = bitnet(['export', path.join(dir, 'healthy')]);
    expect(e.status, e.stderr).to.equal(0);
  });
  after(() => rmDir(dir));

  const oneLine = (stderr: string, what: RegExp) => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).to.have.length(1);
    expect(lines[0]).to.match(/^bitnet: watchdog: /);
    expect(lines[0]).to.match(what);
    expect(lines[0]).to.match(/made no progress for 2 s \(inside a native kernel call: \d+ of the \d+ chunks of its thread-pool job finished\); stopping/);
  };

  it('bitnet train: names the training step it was on', () => {
    const r = bitnet(['train', '--config', config, '--out', path.join(dir, 'stalled')], stall(400));
    expect(r.status, r.stderr).to.equal(WATCHDOG_EXIT_CODE);
    oneLine(r.stderr, /training step \d+ of 30/);
    expect(r.seconds).to.be.below(60);
  });

  it('bitnet eval: names the evaluation window', () => {
    const r = bitnet(['eval', model, '--data', data], stall(30));
    expect(r.status, r.stderr).to.equal(WATCHDOG_EXIT_CODE);
    oneLine(r.stderr, /engine evaluation, window \d+ of \d+/);
  });

  it('bitnet bench: names the benchmark phase', () => {
    const r = bitnet(['bench', model, '--prompt-tokens', '8', '--gen-tokens', '20'], stall(60));
    expect(r.status, r.stderr).to.equal(WATCHDOG_EXIT_CODE);
    oneLine(r.stderr, /benchmark, (prompt processing|generation)/);
  });

  it('a healthy run under a short limit is not stopped (5 s, the trained model of the other cases)', () => {
    expect(existsSync(path.join(dir, 'healthy', 'DONE'))).to.equal(true);
  });

  it('bitnet ablate: the hung run is retried, then recorded FAILED with the watchdog line; the study ends', () => {
    const study = path.join(dir, 'study', 'study.json');
    mkdirSync(path.dirname(study), { recursive: true });
    writeFileSync(study, JSON.stringify({
      name: 'hang',
      description: 'a run that hangs',
      data,
      base: {
        model: { d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 32 },
        train: { batch_size: 2, seq_len: 16, log_every: 1, eval_every: 4, ckpt_every: 2, backend: 'wasm' },
      },
      axes: { mode: 'grid', axes: { 'model.weight_quant': ['ternary'] } },
      seeds: [1],
      token_budget: 256,
      eval: { batches: 1, engine: true },
    }));
    const r = bitnet(['ablate', study, '--workers', '1', '--attempts', '2'], stall(100));
    expect(r.status, r.stdout + r.stderr).to.equal(1);
    expect(r.stdout).to.match(/0 trained, 0 reused, 0 already complete, 1 failed/);
    const failed = readFileSync(path.join(path.dirname(study), 'runs', 'weight_quant=ternary', 'seed-1', 'FAILED'), 'utf8');
    expect(failed, failed).to.match(/^attempt 2 of 2: worker exited with code 124:\nbitnet: watchdog: training step \d+ of 8 made no progress for 2 s/);
  });

  it('a bad BITNET_WATCHDOG_S is a one-line error, exit 2', () => {
    const r = bitnet(['train', '--config', config, '--out', path.join(dir, 'bad')], { BITNET_WATCHDOG_S: 'soon' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal('bitnet: BITNET_WATCHDOG_S: must be a number of seconds in [0, 604800] (0: off), got "soon"\n');
  });
});
