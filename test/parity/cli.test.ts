import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { nativeStatus } from '../../src/native/addon.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';

describe('parity at the command line', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  before(async () => {
    dir = tmpDir('cli-parity');
    data = await tinyData(dir);
  });
  after(() => rmDir(dir));

  it('`bitnet sample RUN --temperature 0` and `bitnet generate RUN.gguf --temperature 0` print the same text, native and --engine ts', () => {
    const run = path.join(dir, 'run');
    const cfg = path.join(dir, 'cli.json');
    writeFileSync(cfg, JSON.stringify({
      data,
      model: { d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 2, d_ff: 256, context_length: 64 },
      // Enough steps at a high LR that greedy decoding says something other than spaces.
      train: { steps: 40, batch_size: 4, seq_len: 32, eval_every: 40, ckpt_every: 40, log_every: 40, eval_batches: 1, lr: { kind: 'constant', peak: 1e-2, warmup: 2 } },
    }));
    const sh = (...args: string[]) => spawnSync(process.execPath, ['bin/bitnet.js', ...args], { encoding: 'utf8' });
    const t = sh('train', '--config', cfg, '--out', run);
    expect(t.status, t.stderr).to.equal(0);
    const e = sh('export', run);
    expect(e.status, e.stderr).to.equal(0);
    const prompt = ['--prompt', 'Call me', '--max-tokens', '24', '--temperature', '0'];
    const s = sh('sample', run, ...prompt);
    expect(s.status, s.stderr).to.equal(0);
    expect(s.stdout.trim().length).to.be.above(3);
    const engines = nativeStatus().loaded ? ['native', 'ts'] : ['ts'];
    for (const which of engines) {
      const g = sh('generate', path.join(run, 'model.gguf'), ...prompt, '--engine', which);
      expect(g.status, g.stderr).to.equal(0);
      expect(g.stdout.trimEnd(), `${which} engine`).to.equal(s.stdout.trimEnd());
      expect(g.stderr).to.match(/tok(ens)?\/s/);
    }
    // No prompt (found by the CLI fuzz soak: sample crashed in tfjs): both start from <|endoftext|>.
    const empty = ['--max-tokens', '8', '--temperature', '0'];
    const s0 = sh('sample', run, ...empty);
    expect(s0.status, s0.stderr).to.equal(0);
    const g0 = sh('generate', path.join(run, 'model.gguf'), '--prompt', '', ...empty);
    expect(g0.status, g0.stderr).to.equal(0);
    expect(g0.stdout.trimEnd()).to.equal(s0.stdout.trimEnd());
  });
});
