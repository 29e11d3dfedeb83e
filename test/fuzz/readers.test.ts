/**
 * Every reader of a file we take as input, fuzzed (test/fuzz/targets.ts): a fast seeded subset here;
 * `npm run fuzz` runs 10,000+ mutations of each. Each mutated input must load or fail with a one-line
 * InputError, and both outcomes must occur (else the mutations test nothing).
 */
import { expect } from 'chai';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { fuzzTarget, fuzzTargets, type Target } from './targets.ts';

// The GGUF reader is fast (6000 in ~2 s); the engine loads and runs each model; an Arrow shard is decoded in
// the reader's worker thread (a restart after every overrun).
const ITERATIONS: Record<string, number> = { 'gguf (reader)': 6000, 'gguf (engine: load + forward)': 300, 'gguf (engine, mapped TQ1_0: load + forward)': 200, 'safetensors checkpoint': 200, 'arrow shard': 100 };
const DEFAULT_ITERATIONS = 400;

describe('fuzz: every reader loads or refuses with a one-line InputError', function () {
  this.timeout(300_000);
  let dir: string;
  let targets: Target[] = [];
  before(async () => {
    dir = tmpDir('fuzz');
    targets = await fuzzTargets(dir);
  });
  after(() => rmDir(dir));

  it('covers GGUF (reader, engine, engine on a mapped file), safetensors and state.json checkpoints, Arrow shards, tokenizer.json, stats.json, run configs and study files', () => {
    expect(targets.map((t) => t.name)).to.have.length(10);
  });

  for (const name of ['gguf (reader)', 'gguf (engine: load + forward)', 'gguf (engine, mapped TQ1_0: load + forward)', 'safetensors checkpoint', 'checkpoint state.json', 'arrow shard', 'tokenizer.json', 'prepared stats.json', 'run config', 'study file'])
    it(`${name}: ${ITERATIONS[name] ?? DEFAULT_ITERATIONS} seeded mutations`, () => {
      const t = targets.find((x) => x.name === name)!;
      const r = fuzzTarget(t, ITERATIONS[name] ?? DEFAULT_ITERATIONS, 20261201);
      expect(r.finding, r.finding ? `iteration ${r.finding.iteration}: ${r.finding.error}` : '').to.equal(null);
      expect(r.rejected, 'mutations rejected').to.be.greaterThan(r.iterations / 10);
      expect(r.loaded, 'mutations that still load').to.be.greaterThan(0);
    });
});
