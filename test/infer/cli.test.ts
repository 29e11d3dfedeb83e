// The engine's commands end to end through bin/bitnet.js: synth, generate on both engines (same greedy
// text), bench --json keys, eval --json, and one-line errors for bad input.
import { expect } from 'chai';
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { benchCommand } from '../../src/cli/commands/bench.ts';
import { evalCommand } from '../../src/cli/commands/eval.ts';
import { generateCommand } from '../../src/cli/commands/generate.ts';
import { synthCommand } from '../../src/cli/commands/synth.ts';
import { isInputError } from '../../src/errors.ts';
import { nativeKernels } from '../../src/infer/kernels/index.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';
import { writeTinyModel } from './helpers.ts';

const BIN = path.resolve('bin/bitnet.js');

interface Run { status: number | null; stdout: string; stderr: string }

function bitnet(...args: string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking: independent runs go side by side (each CLI start costs seconds). */
function bitnetAsync(...args: string[]): Promise<Run> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })),
  );
}

describe('infer/cli: bitnet synth, generate, bench, eval', function () {
  let dir: string;
  let model: string;
  let data: string;
  before(() => {
    dir = tmpDir('cli');
    model = path.join(dir, 'x.gguf');
  });
  after(() => rmDir(dir));

  it('synth writes a model that generate runs to the same greedy text on both engines', async () => {
    expect(nativeKernels(), 'the native addon must be built for this test').to.not.equal(null);
    const s = bitnet('synth', '--shape', '256,1,512,4,4,300', '--type', 'tq2_0', '--out', model);
    expect(s.status, s.stderr).to.equal(0);
    expect(s.stdout).to.match(/wrote .*x\.gguf: d256 L1 ff512 heads 4\/4 vocab 300, TQ2_0/);
    const outs = await Promise.all(['native', 'ts'].map((engine) => bitnetAsync('generate', model, '--prompt', 'hi', '--max-tokens', '5', '--temperature', '0', '--engine', engine)));
    for (const o of outs) {
      expect(o.status, o.stderr).to.equal(0);
      expect(o.stderr).to.match(/^5 tokens in .* tokens\/s \(prompt 2 tokens at .*stop: max-tokens/m);
    }
    expect(outs[0]!.stdout.length).to.be.greaterThan(1);
    expect(outs[1]!.stdout).to.equal(outs[0]!.stdout);
  });

  it('bench --json prints the keys of the issue', () => {
    const r = bitnet('bench', model, '--json', '--prompt-tokens', '16', '--gen-tokens', '8');
    expect(r.status, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const k of ['pp_tokens_per_s', 'tg_tokens_per_s', 'load_s', 'peak_rss_mb', 'bits_per_weight', 'threads', 'energy_pj_per_token', 'energy_pj_per_token_fp16'])
      expect(j[k], k).to.be.a('number').and.be.greaterThan(0);
    expect(j.engine).to.equal('native');
    expect(j.bits_per_weight).to.equal(2.0625);
    expect(j.energy_pj_per_token as number).to.be.lessThan(j.energy_pj_per_token_fp16 as number);
  });

  it('eval --json prints loss, perplexity, bits per byte and tokens', async () => {
    data = await tinyData(dir, 'byte');
    const { file } = await writeTinyModel(dir, 'byte.gguf', { vocab_size: 257, context_length: 64, n_layers: 1 });
    const r = bitnet('eval', file, '--data', data, '--json');
    expect(r.status, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as Record<string, number>;
    expect(Object.keys(j).sort()).to.deep.equal(['bits_per_byte', 'loss', 'perplexity', 'tokens']);
    expect(j.perplexity).to.be.closeTo(Math.exp(j.loss!), 1e-9 * j.perplexity!);
  });

  // In process (each CLI start costs seconds): main.ts turns these InputErrors into one line and exit 2.
  it('bad input is an InputError naming the flag or file', async () => {
    const run = (cmd: { handler: (a: never) => unknown }, argv: Record<string, unknown>) => Promise.resolve().then(() => cmd.handler(argv as never));
    const gen = { prompt: 'x', 'max-tokens': 2, temperature: 0, 'top-k': 0, 'top-p': 1, 'repeat-penalty': 1 };
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [run(generateCommand, { ...gen, file: path.join(dir, 'nope.gguf') }), /nope\.gguf/],
      [run(synthCommand, { shape: '100,1,512,4,4,300', type: 'tq2_0', out: path.join(dir, 'y.gguf'), seed: 1 }), /^--shape: d 100 and ff 512 must be multiples of 256/],
      [run(evalCommand, { file: model, data, split: 'val' }), /data: its tokenizer \(257 tokens\) is not the model's \(300 tokens/],
    ];
    for (const [p, pattern] of cases) {
      const err = await p.then(() => null, (e: unknown) => e);
      expect(isInputError(err), String(err)).to.equal(true);
      expect((err as Error).message).to.match(pattern).and.not.contain('\n');
    }
  });

  it('a bad flag value is refused at parse time: one line naming the flag, exit 2', () => {
    const cases: Array<[string[], string]> = [
      [['generate', model, '--prompt', 'x', '--engine', 'gpu'], '--engine: "gpu" is not one of auto, native, ts'],
      [['generate', model, '--prompt', 'x', '--top-p', '2'], '--top-p: must be a number > 0 and <= 1, got "2"'],
      [['generate', model, '--prompt', 'x', '--threads', '0'], '--threads: must be an integer >= 1 and <= 256, got "0"'],
      [['synth', '--shape', '256,1,512,4,4,300', '--type', 'q4_0', '--out', path.join(dir, 'y.gguf')], '--type: "q4_0" is not one of tq2_0, tq1_0, i2_s'],
      [['synth', '--shape', '256,1,512,4,4,300', '--embedding-type', 'q4_k', '--out', path.join(dir, 'y.gguf')], '--embedding-type: "q4_k" is not one of f16, q8_0, q6_k'],
      [['synth', '--shape', '256,1,512,4,4,300', '--arch', 'llama', '--out', path.join(dir, 'y.gguf')], '--arch: "llama" is not one of bitnet, bitnet-b1.58, bitnet-25'],
      [['bench', model, '--prompt-tokens', '0'], '--prompt-tokens: must be an integer >= 1 and <= 1048576, got "0"'],
      [['eval', model, '--data', data, '--split', 'test'], '--split: "test" is not one of val, train'],
    ];
    for (const [args, line] of cases) {
      const r = bitnet(...args);
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.equal(`bitnet: ${line}\n`);
    }
  });
});
