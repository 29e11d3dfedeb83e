import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkAndWriteLock, readLock, readStudyFile, resolveStudy, runDirOf, type ResolvedStudy } from '../../src/ablate/expand.ts';
import { writeRunRecord } from '../../src/ablate/rundir.ts';
import { expandStudy, parseStudy, type StudyPlan } from '../../src/config/study.ts';
import { InputError } from '../../src/errors.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';

const FILE = 'experiments/demo/study.json';
const BASE = { model: { d_model: 256, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_ff: 512, context_length: 64 }, train: { batch_size: 2, seq_len: 32 } };

function study(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'demo', data: 'data/x', base: BASE, seeds: [1, 2], token_budget: 640, ...over };
}

function expand(over: Record<string, unknown> = {}): StudyPlan {
  return expandStudy(parseStudy(study(over), FILE), FILE, { dataDir: 'data/x', vocabSize: 320 });
}

/** The InputError an expansion throws: its source and problem. */
function failure(over: Record<string, unknown>): InputError {
  try {
    expand(over);
  } catch (e) {
    expect(e).to.be.instanceOf(InputError);
    return e as InputError;
  }
  throw new Error(`expected an InputError for ${JSON.stringify(over)}`);
}

describe('ablate/study expansion', () => {
  it('grid: the cartesian product in axis order, named key=value, run ids STUDY/ARM/seed-K', () => {
    const plan = expand({ axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp', 'binary', 'ternary'], 'model.act_quant': ['int8', 'none'] } } });
    expect(plan.arms.map((a) => a.name)).to.deep.equal([
      'weight_quant=fp,act_quant=int8',
      'weight_quant=fp,act_quant=none',
      'weight_quant=binary,act_quant=int8',
      'weight_quant=binary,act_quant=none',
      'weight_quant=ternary,act_quant=int8',
      'weight_quant=ternary,act_quant=none',
    ]);
    expect(plan.runs.map((r) => r.id).slice(0, 3)).to.deep.equal(['demo/weight_quant=fp,act_quant=int8/seed-1', 'demo/weight_quant=fp,act_quant=int8/seed-2', 'demo/weight_quant=fp,act_quant=none/seed-1']);
    expect(plan.runs).to.have.length(12);
    const r = plan.runs.find((x) => x.id === 'demo/weight_quant=binary,act_quant=none/seed-2')!;
    expect(r.config.model.weight_quant).to.equal('binary');
    expect(r.config.model.act_quant).to.equal('none');
    expect(r.config.model.seed).to.equal(2);
    expect(r.config.train.data_seed).to.equal(2);
    expect(r.config.model.vocab_size).to.equal(320);
    expect(r.config.data).to.equal('data/x');
    // 640 tokens / (2 · 32) = 10 steps, exactly
    expect(r.config.train.steps).to.equal(10);
    expect(r.tokens).to.equal(640);
    expect(r.note).to.equal(undefined);
    expect(plan.baseline).to.equal('weight_quant=fp,act_quant=int8');
  });

  it('one_at_a_time: the base, then each value of each axis alone; a value equal to the base is the base', () => {
    const plan = expand({ axes: { mode: 'one_at_a_time', axes: { 'model.act_quant': ['int8', 'int4', 'none'], 'model.weight_scale': ['tensor', 'row', 'group:64'] } } });
    expect(plan.arms.map((a) => a.name)).to.deep.equal(['base', 'act_quant=int4', 'act_quant=none', 'weight_scale=row', 'weight_scale=group_64']);
    expect(plan.baseline).to.equal('base');
    const g = plan.runs.find((r) => r.arm === 'weight_scale=group_64')!;
    expect(g.config.model.weight_scale).to.equal('group:64');
    expect(g.config.model.act_quant).to.equal('int8'); // the other axis stays at the base
  });

  it('explicit arms change several keys at once and come after the axes; names are kept', () => {
    const plan = expand({
      axes: { mode: 'grid', axes: { 'model.subln': ['on', 'off'] } },
      arms: [{ name: 'lr x4', set: { 'train.lr': { kind: 'cosine', peak: 1.2e-2, warmup: 2 }, 'train.grad_clip': 0.5 } }],
      baseline: 'subln=on',
    });
    expect(plan.arms.map((a) => a.name)).to.deep.equal(['subln=on', 'subln=off', 'lr_x4']);
    const lr = plan.runs.find((r) => r.arm === 'lr_x4')!.config.train;
    expect(lr.lr).to.deep.equal({ kind: 'cosine', peak: 1.2e-2, warmup: 2, min_ratio: 0.1 });
    expect(lr.grad_clip).to.equal(0.5);
    // arms alone, without axes
    expect(expand({ arms: [{ name: 'a', set: {} }, { name: 'b', set: { 'model.subln': 'off' } }] }).arms.map((a) => a.name)).to.deep.equal(['a', 'b']);
  });

  it('is deterministic, and axes that share a last key segment are named by the full key', () => {
    const over = { axes: { mode: 'grid', axes: { 'train.lr.peak': [1e-3, 4e-3], 'train.weight_decay.value': [0, 0.1], 'model.d_model': [256] } } };
    const a = expand(over);
    expect(JSON.stringify(expand(over))).to.equal(JSON.stringify(a));
    expect(a.arms[1]!.name).to.equal('peak=0.001,value=0.1,d_model=256');
    const clash = expand({ axes: { mode: 'grid', axes: { 'train.lr.split': [0.4], 'train.weight_decay.split': [0.6], 'train.lr.warmup': [3] } } });
    expect(clash.arms[0]!.name).to.equal('train.lr.split=0.4,train.weight_decay.split=0.6,warmup=3');
    expect(clash.runs[0]!.config.train.weight_decay).to.deep.include({ kind: 'two_stage', split: 0.6 });
  });

  it('states how a token budget that is not a whole number of steps was rounded', () => {
    const plan = expand({ token_budget: 1000, axes: { mode: 'grid', axes: { 'train.batch_size': [2, 4] } } });
    const [b2, b4] = [plan.runs[0]!, plan.runs[2]!];
    expect(b2.config.train.steps).to.equal(16); // 1000 / 64 = 15.6
    expect(b2.tokens).to.equal(1024);
    expect(b2.note).to.match(/15\.63 steps of 64 tokens: rounded to 16 steps \(1024 tokens\)/);
    expect(b4.config.train.steps).to.equal(8); // 1000 / 128 = 7.8
  });
});

describe('ablate/study validation', () => {
  it('an unknown axis key names the file and the key', () => {
    const e = failure({ axes: { mode: 'grid', axes: { 'model.wieght_quant': ['fp'] } } });
    expect(e.source).to.equal(FILE);
    expect(e.problem).to.contain('wieght_quant');
    expect(e.message).to.match(/^experiments\/demo\/study\.json: arm "wieght_quant=fp": model: unknown key "wieght_quant"/);
    expect(failure({ arms: [{ name: 'x', set: { 'trian.steps': 3 } }] }).problem).to.contain('trian');
  });

  it('an empty grid, an empty axis and no arms at all are refused', () => {
    expect(failure({ axes: { mode: 'grid', axes: {} } }).problem).to.match(/empty grid/);
    expect(failure({ axes: { mode: 'grid', axes: { 'model.subln': ['on'], 'model.act_quant': [] } } }).problem).to.match(/axes\.axes\.model\.act_quant: no values/);
    expect(failure({}).problem).to.match(/no arms/);
  });

  it('duplicate seeds are refused by name', () => {
    expect(() => parseStudy(study({ seeds: [1, 2, 1] }), FILE)).to.throw(InputError, /seed 1 appears twice/);
  });

  it('an arm the model schema refuses fails before any run, naming the arm and the key', () => {
    const e = failure({ axes: { mode: 'grid', axes: { 'model.n_heads': [4, 3] } } });
    expect(e.problem).to.match(/arm "n_heads=3".*d_model 256 is not divisible by n_heads 3/);
    expect(failure({ axes: { mode: 'grid', axes: { 'model.weight_quant': ['quaternary'] } } }).problem).to.match(/model\.weight_quant/);
    expect(failure({ arms: [{ name: 'x', set: { 'model.weight_scale': 'group:100' } }] }).problem).to.match(/group size 100 does not divide d_model 256/);
  });

  it('refuses an unknown baseline, duplicate arm names and per-arm steps, vocabulary or data', () => {
    expect(failure({ arms: [{ name: 'a', set: {} }], baseline: 'b' }).problem).to.match(/baseline: no arm named "b"/);
    expect(failure({ arms: [{ name: 'a', set: {} }, { name: 'a', set: {} }] }).problem).to.match(/"a" is defined twice/);
    expect(failure({ arms: [{ name: 'a', set: { 'train.steps': 5 } }] }).problem).to.match(/train\.steps is set by token_budget/);
    expect(failure({ arms: [{ name: 'a', set: { 'model.vocab_size': 512 } }] }).problem).to.match(/model\.vocab_size is the study's/);
    expect(() => parseStudy(study({ name: 'a/b', arms: [{ name: 'a', set: {} }] }), FILE)).to.throw(InputError, /name/);
    expect(() => parseStudy(study({ extra: 1, arms: [{ name: 'a', set: {} }] }), FILE)).to.throw(InputError, /unknown key "extra"/);
  });

  it('the analysis block names existing arms and a real config key; a margin must be positive', () => {
    const arms = [{ name: 'a', set: {} }, { name: 'b', set: { 'model.weight_quant': 'binary' } }];
    expect(expand({ arms, analysis: { comparisons: [{ arm: 'b', vs: 'a', margin: 0.02 }], best_by: 'model.weight_quant' } }).arms).to.have.length(2);
    expect(failure({ arms, analysis: { comparisons: [{ arm: 'b', vs: 'z' }] } }).problem).to.match(/analysis\.comparisons\[0\]: no arm named "z"/);
    expect(expand({ arms, analysis: { contrasts: [{ of: { arm: 'b', vs: 'a' }, minus: { arm: 'a', vs: 'b' } }] } }).arms).to.have.length(2);
    expect(failure({ arms, analysis: { contrasts: [{ of: { arm: 'b', vs: 'a' }, minus: { arm: 'q', vs: 'a' } }] } }).problem).to.match(/analysis\.contrasts\[0\]\.minus\.arm: no arm named "q"/);
    expect(failure({ arms, analysis: { contrasts: [{ of: { arm: 'b' }, minus: { arm: 'a', vs: 'b' } }] } }).problem).to.match(/contrasts/);
    expect(failure({ arms, analysis: { best_by: 'model.no_such_key' } }).problem).to.match(/analysis\.best_by: "model\.no_such_key" is not a config key/);
    expect(() => parseStudy(study({ arms, analysis: { equivalence_margin: -1 } }), FILE)).to.throw(InputError, /equivalence_margin/);
  });
});

describe('ablate/study lock', function () {
  this.timeout(60_000);
  let dir: string;
  let data: string;
  before(async () => {
    dir = tmpDir('study-lock');
    data = await tinyData(dir);
  });
  after(() => rmDir(dir));

  const write = (name: string, over: Record<string, unknown>) => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(study({ data, arms: [{ name: 'a', set: {} }], ...over })));
    return file;
  };

  it('hashes what decides the runs: the same file twice is the same study, a description is not part of it', () => {
    const a = resolveStudy(write('a.json', {}));
    expect(resolveStudy(write('a2.json', {})).hash).to.equal(a.hash);
    expect(resolveStudy(write('a3.json', { description: 'notes' })).hash).to.equal(a.hash);
    expect(resolveStudy(write('a4.json', { token_budget: 704 })).hash).to.not.equal(a.hash);
    expect(a.runs[0]!.config.model.vocab_size).to.equal(320); // from the prepared data
  });

  it('refuses a runs directory that holds runs of a different study definition', () => {
    const runs = path.join(dir, 'runs');
    mkdirSync(runs);
    const b = resolveStudy(write('b.json', {}));
    checkAndWriteLock(runs, b);
    checkAndWriteLock(runs, resolveStudy(write('b.json', { baseline: 'a' }))); // same runs: fine
    const changed = write('c.json', { base: { ...BASE, model: { ...BASE.model, n_layers: 1 } } });
    // Before any run has started, the old definition constrains nothing but the name.
    mkdirSync(path.join(dir, 'other'));
    checkAndWriteLock(path.join(dir, 'other'), b);
    expect(checkAndWriteLock(path.join(dir, 'other'), resolveStudy(changed))).to.equal(0);
    expect(() => checkAndWriteLock(path.join(dir, 'other'), resolveStudy(write('d.json', { name: 'renamed' })))).to.throw(InputError, /it was study "demo"/);
    for (const r of b.runs) {
      mkdirSync(runDirOf(runs, r), { recursive: true });
      writeRunRecord(runDirOf(runs, r), b, r);
    }
    expect(() => checkAndWriteLock(runs, resolveStudy(changed))).to.throw(InputError, /holds runs of a different study definition/);
  });

  describe('a study may grow: seeds or arms added, every started run the same computation', () => {
    let runs: string;
    let first: ResolvedStudy;
    beforeEach(() => {
      runs = path.join(dir, `grow-${Math.random().toString(36).slice(2)}`);
      mkdirSync(runs);
      first = resolveStudy(write('g1.json', { seeds: [1, 2] }));
      expect(checkAndWriteLock(runs, first)).to.equal(0);
      // seed 1 has started (its run record is written), seed 2 has not.
      const run = first.runs.find((r) => r.seed === 1)!;
      mkdirSync(runDirOf(runs, run), { recursive: true });
      writeRunRecord(runDirOf(runs, run), first, run);
    });

    it('adding seeds and an arm is accepted, counted, and recorded in the lock', () => {
      const grown = resolveStudy(write('g2.json', { seeds: [1, 2, 3], arms: [{ name: 'a', set: {} }, { name: 'b', set: { 'model.n_layers': 1 } }] }));
      expect(grown.hash).to.not.equal(first.hash);
      expect(checkAndWriteLock(runs, grown)).to.equal(4); // a/seed-3, b/seed-1..3
      const lock = readLock(runs)!;
      expect(lock.hash).to.equal(grown.hash);
      expect(lock.runs.length).to.equal(6);
      expect(lock.grown_from!.map((g) => [g.hash, g.runs])).to.deep.equal([[first.hash, 2]]);
      expect(checkAndWriteLock(runs, grown)).to.equal(0); // the same definition again: nothing added, history kept
      expect(readLock(runs)!.grown_from!.length).to.equal(1);
    });

    it('a run that has not started may be dropped; a started one may not', () => {
      expect(checkAndWriteLock(runs, resolveStudy(write('g3.json', { seeds: [1, 5] })))).to.equal(1);
      expect(() => checkAndWriteLock(runs, resolveStudy(write('g4.json', { seeds: [2, 5] })))).to.throw(InputError, /demo\/a\/seed-1 has started and is not in this definition/);
    });

    it('a started run whose config would change is refused, naming it', () => {
      const changed = resolveStudy(write('g5.json', { seeds: [1, 2, 3], base: { ...BASE, train: { ...BASE.train, batch_size: 1 } } }));
      expect(() => checkAndWriteLock(runs, changed)).to.throw(InputError, /demo\/a\/seed-1 has started with another config/);
      expect(readLock(runs)!.hash).to.equal(first.hash); // the lock is not touched
    });
  });
});

describe('the shipped studies (experiments/*/study.json)', () => {
  // A study file that does not expand would fail only when someone starts it, hours into a session.
  const dirs = readdirSync('experiments').filter((d) => existsSync(path.join('experiments', d, 'study.json')));
  it('there are studies to check', () => expect(dirs.length).to.be.greaterThan(5));
  for (const d of dirs) {
    it(`${d}: parses, expands, and every comparison names its arms`, () => {
      const file = path.join('experiments', d, 'study.json');
      const s = readStudyFile(file);
      const plan = expandStudy(s, file, { dataDir: 'data/pd-mix', vocabSize: 4096 });
      const arms = new Set(plan.arms.map((a) => a.name));
      expect(arms.has(plan.baseline), `baseline ${plan.baseline}`).to.equal(true);
      for (const c of s.analysis?.comparisons ?? []) expect(arms.has(c.arm) && arms.has(c.vs ?? plan.baseline), JSON.stringify(c)).to.equal(true);
      expect(plan.runs.length).to.equal(plan.arms.length * s.seeds.length);
    });
  }
});
