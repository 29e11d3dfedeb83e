/**
 * Property-based CLI fuzz (fast-check): every command with one to three of its flags (or positionals)
 * given a bad value of the flag's kind (wrong type, negative, NaN, huge, an unknown choice, a missing,
 * empty, garbage or unwritable path, a flag given twice, an unknown flag), on top of a valid, quick base
 * command. Every case must end with exit 0 or 2, at most one stderr line, never "internal error", and
 * within a deadline. The suite runs a fixed seed; `npm run fuzz` runs more cases (BITNET_FUZZ_RUNS) with
 * another seed (BITNET_FUZZ_SEED).
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { loadPrepared } from '../../src/data/load.ts';
import { type ChildOutcome, runChild } from '../support/child.ts';
import { rmDir, tinyCorpusFile, tinyData, tmpDir } from '../support/tiny.ts';

const BIN = path.resolve('bin/bitnet.js');
const RUNS_PER_COMMAND = Number(process.env.BITNET_FUZZ_RUNS ?? 6);
const SEED = Number(process.env.BITNET_FUZZ_SEED ?? 20261201);
const DEADLINE_MS = 60_000;

type Kind = 'int' | 'float' | 'choice' | 'path' | 'out' | 'string' | 'bool' | 'set' | 'shape';
interface Flag {
  name: string; // '--x', or '@0' for the first positional
  kind: Kind;
}
interface Command {
  base: (n: number) => string[];
  flags: Flag[];
}

async function run(args: string[]): Promise<ChildOutcome & { args: string[] }> {
  return { args, ...(await runChild([BIN, ...args], { deadlineMs: DEADLINE_MS, env: { ...process.env, BITNET_WATCHDOG_S: '30' } })) };
}

describe('cli: property-based fuzz of every command\'s flags', function () {
  // the suite's 6 cases per command take ~3 minutes on a loaded 2-core machine; the soak's more scale with them
  this.timeout(Math.max(900_000, RUNS_PER_COMMAND * 150_000));
  let dir: string;
  const fx = { data: '', config: '', run: '', gguf: '', study: '', corpus: '', garbage: '', wrongJson: '', plainFile: '' };

  before(async () => {
    dir = tmpDir('cli-fuzz');
    fx.data = await tinyData(dir);
    fx.corpus = tinyCorpusFile(dir);
    const vocab = loadPrepared(fx.data).tokenizer.vocabSize;
    fx.config = path.join(dir, 'tiny.json');
    const model = { vocab_size: vocab, d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 32 };
    const train = { steps: 2, batch_size: 2, seq_len: 16, log_every: 1, eval_every: 2, eval_batches: 1, ckpt_every: 2, backend: 'wasm' };
    writeFileSync(fx.config, JSON.stringify({ data: fx.data, model, train }));
    fx.run = path.join(dir, 'run');
    for (const args of [['train', '--config', fx.config, '--out', fx.run], ['export', fx.run]]) {
      const r = await run(args);
      expect(r.code, r.stderr).to.equal(0);
    }
    fx.gguf = path.join(fx.run, 'model.gguf');
    fx.study = path.join(dir, 'study', 'study.json');
    mkdirSync(path.dirname(fx.study));
    writeFileSync(fx.study, JSON.stringify({
      name: 'fz', description: 'fuzz', data: fx.data,
      base: { model: { d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 32 }, train: { batch_size: 2, seq_len: 16, eval_every: 2, ckpt_every: 2, backend: 'wasm' } },
      axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp', 'ternary'] } }, seeds: [1], token_budget: 64, eval: { batches: 1, engine: false },
    }));
    fx.garbage = path.join(dir, 'garbage.bin');
    writeFileSync(fx.garbage, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 255)));
    fx.wrongJson = path.join(dir, 'wrong.json');
    writeFileSync(fx.wrongJson, '{"model": 5, "train": [1]}');
    fx.plainFile = path.join(dir, 'plain');
    writeFileSync(fx.plainFile, 'x');
  });
  after(() => rmDir(dir));

  const out = (tag: string) => (n: number) => path.join(dir, 'out', `${tag}-${n}`);
  const engine: Flag[] = [{ name: '--engine', kind: 'choice' }, { name: '--threads', kind: 'int' }];
  const commands: Record<string, Command> = {
    info: { base: () => ['info'], flags: [{ name: '--json', kind: 'bool' }] },
    prepare: {
      base: (n) => ['prepare', '--corpus', fx.corpus, '--vocab-size', '300', '--out', out('prep')(n)],
      flags: [{ name: '--corpus', kind: 'path' }, { name: '--tokenizer', kind: 'choice' }, { name: '--vocab-size', kind: 'int' }, { name: '--val-fraction', kind: 'float' }, { name: '--out', kind: 'out' }],
    },
    train: {
      base: (n) => ['train', '--config', fx.config, '--out', out('train')(n), '--steps', '2'],
      flags: [{ name: '--config', kind: 'path' }, { name: '--data', kind: 'path' }, { name: '--out', kind: 'out' }, { name: '--steps', kind: 'int' }, { name: '--set', kind: 'set' }, { name: '--backend', kind: 'choice' }, { name: '--stop-after', kind: 'int' }, { name: '--resume', kind: 'bool' }],
    },
    sample: {
      base: () => ['sample', fx.run, '--max-tokens', '3'],
      flags: [{ name: '@0', kind: 'path' }, { name: '--prompt', kind: 'string' }, { name: '--max-tokens', kind: 'int' }, { name: '--temperature', kind: 'float' }, { name: '--top-k', kind: 'int' }, { name: '--seed', kind: 'int' }, { name: '--backend', kind: 'choice' }, { name: '--embedding-type', kind: 'choice' }],
    },
    export: {
      base: (n) => ['export', fx.run, '--out', `${out('export')(n)}.gguf`],
      flags: [{ name: '@0', kind: 'path' }, { name: '--type', kind: 'choice' }, { name: '--out', kind: 'out' }, { name: '--embedding-type', kind: 'choice' }, { name: '--data', kind: 'path' }],
    },
    inspect: { base: () => ['inspect', fx.gguf], flags: [{ name: '@0', kind: 'path' }, { name: '--json', kind: 'bool' }] },
    generate: {
      base: () => ['generate', fx.gguf, '--prompt', 'Call me', '--max-tokens', '3'],
      flags: [{ name: '@0', kind: 'path' }, { name: '--prompt', kind: 'string' }, { name: '--max-tokens', kind: 'int' }, { name: '--temperature', kind: 'float' }, { name: '--top-k', kind: 'int' }, { name: '--top-p', kind: 'float' }, { name: '--repeat-penalty', kind: 'float' }, { name: '--seed', kind: 'int' }, ...engine],
    },
    // stdin is /dev/null: no turn, and the exported file has no chat template (exit 2 in one line)
    chat: {
      base: () => ['chat', fx.gguf, '--max-tokens', '3'],
      flags: [{ name: '@0', kind: 'path' }, { name: '--system', kind: 'string' }, { name: '--max-tokens', kind: 'int' }, { name: '--ctx', kind: 'int' }, { name: '--temperature', kind: 'float' }, { name: '--top-k', kind: 'int' }, { name: '--top-p', kind: 'float' }, { name: '--repeat-penalty', kind: 'float' }, { name: '--seed', kind: 'int' }, ...engine],
    },
    eval: { base: () => ['eval', fx.gguf, '--data', fx.data], flags: [{ name: '@0', kind: 'path' }, { name: '--data', kind: 'path' }, { name: '--text', kind: 'path' }, { name: '--split', kind: 'choice' }, { name: '--json', kind: 'bool' }, ...engine] },
    bench: { base: () => ['bench', fx.gguf, '--prompt-tokens', '4', '--gen-tokens', '4'], flags: [{ name: '@0', kind: 'path' }, { name: '--prompt-tokens', kind: 'int' }, { name: '--gen-tokens', kind: 'int' }, { name: '--json', kind: 'bool' }, ...engine] },
    synth: {
      base: (n) => ['synth', '--shape', '256,1,256,4,4,300', '--out', `${out('synth')(n)}.gguf`],
      flags: [{ name: '--shape', kind: 'shape' }, { name: '--arch', kind: 'choice' }, { name: '--type', kind: 'choice' }, { name: '--embedding-type', kind: 'choice' }, { name: '--output-type', kind: 'choice' }, { name: '--out', kind: 'out' }, { name: '--seed', kind: 'int' }, { name: '--tokenizer', kind: 'path' }],
    },
    ablate: {
      base: (n) => ['ablate', fx.study, '--out', out('ablate')(n), '--workers', '1'],
      flags: [{ name: '@0', kind: 'path' }, { name: '--workers', kind: 'int' }, { name: '--only', kind: 'string' }, { name: '--seeds', kind: 'int' }, { name: '--out', kind: 'out' }, { name: '--attempts', kind: 'int' }],
    },
    report: { base: () => ['report', path.dirname(fx.study)], flags: [{ name: '@0', kind: 'path' }, { name: '--out', kind: 'out' }] },
  };

  const bad: Record<Kind, () => fc.Arbitrary<string | string[]>> = {
    int: () => fc.constantFrom('abc', '-1', '0', 'NaN', 'Infinity', '1e300', '9007199254740993', '1.5', '', '0x10', ' 3', '-0', ['2', '3']),
    float: () => fc.oneof(fc.constantFrom('abc', '-1', 'NaN', '-Infinity', '1e300', '', '1e-400', ['0.5', '0.6']), fc.double({ noNaN: false }).map(String)),
    choice: () => fc.constantFrom('bogus', '', 'TQ2_0', 'Val', 'native ', ['a', 'b']),
    path: () => fc.constantFrom(path.join('/nonexistent-bitnet', 'x'), '', '.', fx.garbage, fx.wrongJson, fx.plainFile, `${fx.plainFile}/x`, fx.gguf, fx.data),
    out: () => fc.constantFrom('', `${fx.plainFile}/x`, fx.plainFile, fx.garbage, ['a', 'b']),
    string: () => fc.oneof(fc.constantFrom('', 'nosucharm', ['a', 'b']), fc.string({ maxLength: 20 })),
    bool: () => fc.constantFrom('maybe', '2', ''),
    set: () => fc.constantFrom('nokey', 'model.d_model=abc', 'x.y=1', 'train.steps=-5', 'model.n_heads=3', '=1', 'train.lr=', 'model.d_model=1e400'),
    shape: () => fc.constantFrom('abc', '1,2,3', '0,0,0,0,0,0', '256,1,512,4,4,99999999999', '125M', '256,1,512,3,4,300', '-256,1,512,4,4,300', ''),
  };

  function caseArb(cmd: Command): fc.Arbitrary<string[]> {
    const mutation = fc.constantFrom(...cmd.flags).chain((f) => bad[f.kind]().map((v) => ({ f, v })));
    const extra = fc.constantFrom<string[]>([], ['--bogus-flag', '1'], ['--help']);
    return fc.tuple(fc.nat(1_000_000), fc.array(mutation, { minLength: 1, maxLength: 3 }), extra).map(([n, ms, ex]) => {
      let args = cmd.base(n);
      for (const { f, v } of ms) {
        if (f.name.startsWith('@')) {
          args = [args[0]!, ...[v].flat(), ...args.slice(2)];
          continue;
        }
        // Replace the flag where the base gives it, else add it; an array value gives the flag several times.
        const i = args.indexOf(f.name);
        if (i >= 0) args.splice(i, 2);
        for (const x of [v].flat()) args.push(f.name, x);
      }
      return [...args, ...ex];
    });
  }

  it(`${RUNS_PER_COMMAND} cases per command (seed ${SEED}): exit 0 or 2, at most one stderr line, never an internal error or a hang`, async () => {
    const cases: string[][] = [];
    for (const [name, cmd] of Object.entries(commands)) cases.push(...fc.sample(caseArb(cmd), { numRuns: RUNS_PER_COMMAND, seed: SEED + name.length * 7919 }));
    const failures: string[] = [];
    const queue = [...cases];
    const lane = async () => {
      for (let args = queue.shift(); args; args = queue.shift()) {
        const r = await run(args);
        const lines = r.stderr.trim() === '' ? 0 : r.stderr.trim().split('\n').length;
        const ok = !r.timedOut && (r.code === 0 || r.code === 2) && lines <= 1 && !/internal error/.test(r.stderr);
        if (!ok) failures.push(`${JSON.stringify(r.args)} -> ${r.timedOut ? 'timed out' : `exit ${r.code}${r.signal ? ` ${r.signal}` : ''}`}, ${lines} stderr line(s): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      }
    };
    await Promise.all([lane(), lane()]);
    expect(failures, `${failures.length} of ${cases.length} cases failed:\n${failures.join('\n')}`).to.deep.equal([]);
  });
});
