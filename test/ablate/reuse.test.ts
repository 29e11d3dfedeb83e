/**
 * What makes a run of another study reusable (src/ablate/reuse.ts): the computation key sees every
 * setting that changes the numbers and nothing that does not (the data directory's name, key order),
 * and a source is refused when its instruction set is unknown, different or mixed, or it was
 * warm-started. The end-to-end copy is tested through the CLI in ablate.test.ts.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RunConfig } from '../../src/config/train.ts';
import { computationKey } from '../../src/ablate/computation.ts';
import { unreusable } from '../../src/ablate/reuse.ts';
import type { RunRecord } from '../../src/ablate/rundir.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';

function record(over: { model?: Record<string, unknown>; train?: Record<string, unknown>; data?: string; tokens?: number; fingerprint?: string } = {}): RunRecord {
  const config = RunConfig.parse({ data: over.data ?? 'data/a', model: { vocab_size: 300, ...over.model }, train: { steps: 10, ...over.train } });
  return { id: 's/x/seed-1', study: 's', study_hash: 'h', arm: 'x', seed: 1, token_budget: 1, tokens: over.tokens ?? 1000, engine: true, data: { dir: over.data ?? 'data/a', fingerprint: over.fingerprint ?? 'f1' }, config };
}

describe('ablate/reuse: which runs are the same computation', () => {
  it('the key ignores the data directory name and key order, and sees config, tokens, fingerprint and engine', () => {
    const base = computationKey(record());
    expect(computationKey(record({ data: 'data/elsewhere' }))).to.equal(base);
    const r = record();
    const reverse = (o: object): object => Object.fromEntries(Object.entries(o).reverse().map(([k, v]) => [k, v !== null && typeof v === 'object' ? reverse(v) : v]));
    const reordered = { ...r, config: reverse(r.config) as RunConfig };
    expect(JSON.stringify(reordered.config)).to.not.equal(JSON.stringify(r.config));
    expect(computationKey(reordered)).to.equal(base);
    expect(computationKey(record({ train: { lr: { kind: 'cosine', peak: 1e-3, warmup: 1 } } }))).to.not.equal(base);
    expect(computationKey(record({ model: { weight_scale: 'row' } }))).to.not.equal(base);
    expect(computationKey(record({ model: { seed: 2 } }))).to.not.equal(base);
    expect(computationKey(record({ tokens: 2000 }))).to.not.equal(base);
    expect(computationKey(record({ fingerprint: 'f2' }))).to.not.equal(base);
    expect(computationKey({ ...record(), engine: false })).to.not.equal(base);
  });

  describe('a source is refused unless every segment trained on this ISA', () => {
    let dir: string;
    before(() => (dir = tmpDir('reuse')));
    after(() => rmDir(dir));
    const withHosts = (name: string, isas: string[] | null) => {
      const d = path.join(dir, name);
      mkdirSync(d, { recursive: true });
      if (isas) writeFileSync(path.join(d, 'hosts.json'), JSON.stringify(isas.map((native_isa, i) => ({ from_step: i * 5, native_isa }))));
      return d;
    };
    it('same ISA: reusable', () => expect(unreusable(withHosts('same', ['avx2', 'avx2']), record(), 'avx2')).to.equal(null));
    it('no hosts.json: refused, and says why; taken when asked (--reuse-unrecorded)', () => {
      expect(unreusable(withHosts('none', null), record(), 'avx2')).to.match(/no hosts.json .* instruction set is unknown/);
      expect(unreusable(withHosts('none', null), record(), 'avx2', true)).to.equal(null);
      expect(unreusable(withHosts('other2', ['avx512vnni']), record(), 'avx2', true)).to.match(/trained on avx512vnni/);
    });
    it('another ISA: refused', () => expect(unreusable(withHosts('other', ['avx512vnni']), record(), 'avx2')).to.equal("it trained on avx512vnni, this study's workers on avx2"));
    it('resumed on another ISA: refused', () => expect(unreusable(withHosts('mixed', ['avx2', 'avx512vnni']), record(), 'avx2')).to.equal("it trained on avx2 + avx512vnni, this study's workers on avx2"));
    it('warm-started: refused', () => expect(unreusable(withHosts('warm', ['avx2']), record({ train: { init_from: { run: 'runs/a' } } }), 'avx2')).to.match(/warm-started/));
  });
});
