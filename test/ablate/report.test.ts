/**
 * The report's comparisons on fabricated runs: pairing by seed (only seeds both arms finished), Welch over
 * all runs, the equivalence margin (per comparison, else the study's), the tracked difference at every
 * evaluation, contrasts (a difference of paired differences), and the best arm per group.
 */
import { expect } from 'chai';
import { RunConfig } from '../../src/config/train.ts';
import { bestByGroup, compareArms, contrastArms, hostsMarkdown, studyComparisons, summarizeArms, type RunSummary } from '../../src/ablate/report.ts';
import { pairedTTest, welchTTest } from '../../src/ablate/stats.ts';
import type { MetricRow } from '../../src/train/metrics.ts';

function run(arm: string, seed: number, losses: number[], quant: 'fp' | 'ternary' = 'fp'): RunSummary {
  const config = RunConfig.parse({ model: { vocab_size: 300, weight_quant: quant }, train: { steps: losses.length * 10 } });
  const metrics = losses.map((l, i) => ({ step: (i + 1) * 10, tokens: (i + 1) * 1000, loss: l, val_loss: l, val_bpb: l, lr: 0, weight_decay: 0, grad_norm: 1, tokens_per_s: 1, wall_s: i, zero_frac: 0, flip_frac: 0 }) as MetricRow);
  return {
    record: { id: `s/${arm}/seed-${seed}`, study: 's', study_hash: 'h', arm, seed, token_budget: 1, tokens: 1, engine: false, data: { dir: 'd', fingerprint: 'f' }, config },
    dir: '', status: 'done', error: null, metrics, valLoss: losses.at(-1)!, valBpb: NaN, steps: 0, tokensTrained: 0, trainTokensPerS: 1, bitsPerWeight: 16, bpwSource: 'nominal', engine: null, hosts: [], reused: null,
  };
}

describe('ablate/report: comparisons', () => {
  const runs = [
    run('a', 1, [6.0, 5.10]), run('a', 2, [6.1, 5.14]), run('a', 3, [6.2, 5.12]),
    run('b', 1, [6.0, 5.00]), run('b', 2, [6.0, 5.03]), run('b', 4, [6.1, 5.01]),
    run('t', 1, [6.0, 5.30], 'ternary'), run('t', 2, [6.0, 5.31], 'ternary'),
  ];

  it('pairs by seed (seeds 1 and 2 here), Welch over every finished run', () => {
    const c = compareArms(runs, 'a', 'b', null, false);
    expect(c.n).to.deep.equal([3, 3]);
    expect(c.paired).to.deep.equal(pairedTTest([5.10, 5.14], [5.00, 5.03]));
    expect(c.welchP).to.equal(welchTTest([5.10, 5.14, 5.12], [5.00, 5.03, 5.01])!.p);
    expect(c.equivalence).to.equal(null);
    expect(c.mde).to.be.greaterThan(0);
  });

  it('default comparisons are every arm against the baseline; a margin per comparison wins over the study\'s', () => {
    const arms = ['a', 'b', 't'];
    expect(studyComparisons(runs, arms, 'b', undefined).map((c) => `${c.arm}-${c.vs}:${c.margin}`)).to.deep.equal(['a-b:null', 't-b:null']);
    const cs = studyComparisons(runs, arms, 'b', { comparisons: [{ arm: 'a', vs: 'b' }, { arm: 't', vs: 'a', margin: 0.5 }], equivalence_margin: 0.02, track: true });
    expect(cs.map((c) => c.margin)).to.deep.equal([0.02, 0.5]);
    expect(cs[1]!.equivalence!.equivalent).to.equal(true); // |Δ| ≈ 0.18 well inside ±0.5
    expect(cs[0]!.equivalence!.equivalent).to.equal(false); // Δ ≈ 0.105 is outside ±0.02
    // tracked at both evaluations, steps 10 and 20
    expect(cs[0]!.track.map((t) => [t.step, t.paired.n])).to.deep.equal([[10, 2], [20, 2]]);
    expect(cs[0]!.track[0]!.paired.diff).to.be.closeTo(0.05, 1e-12);
  });

  it('a contrast is the difference of two paired differences over the seeds all four arms finished', () => {
    // (p − q) − (r − s) per seed: seed 1 (5.10 − 5.00) − (5.20 − 5.15) = 0.05, seed 2 (5.14 − 5.03) − (5.22 − 5.20) = 0.09;
    // seed 3 is missing from s, so it is left out. Mean 0.07, sd 0.04/√2; the 95 % half-width is
    // t(0.975, 1) · sd/√2 = 12.706204736 · 0.02 (scipy.stats.t.ppf(0.975, 1) = 12.706204736174698).
    const rs = [
      run('p', 1, [5.10]), run('p', 2, [5.14]), run('p', 3, [5.0]),
      run('q', 1, [5.00]), run('q', 2, [5.03]), run('q', 3, [5.0]),
      run('r', 1, [5.20]), run('r', 2, [5.22]), run('r', 3, [5.0]),
      run('s', 1, [5.15]), run('s', 2, [5.20]),
    ];
    const c = contrastArms(rs, { arm: 'p', vs: 'q' }, { arm: 'r', vs: 's' });
    expect(c.paired.n).to.equal(2);
    expect(c.paired.diff).to.be.closeTo(0.07, 1e-12);
    expect(c.paired.sd).to.be.closeTo(0.04 / Math.SQRT2, 1e-12);
    expect(c.paired.ci95![0]).to.be.closeTo(0.07 - 12.706204736174698 * 0.02, 1e-9);
    expect(c.paired.ci95![1]).to.be.closeTo(0.07 + 12.706204736174698 * 0.02, 1e-9);
    expect(c.mde).to.be.greaterThan(0.07);
  });

  it('best arm per group: the lowest mean loss of each value of the key', () => {
    const arms = summarizeArms(runs, ['a', 'b', 't'], 'b');
    const g = bestByGroup(runs, arms, 'model.weight_quant');
    expect(g.map((x) => [x.group, x.best, x.others.map((o) => o.arm)])).to.deep.equal([['"fp"', 'b', ['a']], ['"ternary"', 't', []]]);
  });

  it('lists the machines that trained the runs, each segment of a resumed run, and the runs that did not record one', () => {
    const seg = (cpu: string, isa: string, step: number) => ({ at: '', from_step: step, cpu, cores: 2, mem_gib: 24, os: 'Linux', node: 'v20', backend: 'wasm', native_isa: isa, threads: 1, commit: 'abc1234' });
    const a = run('a', 1, [5]);
    a.hosts = [seg('Zen 1', 'avx2', 0), seg('Zen 4', 'avx512vnni', 500)];
    const b = run('b', 1, [5]);
    b.hosts = [seg('Zen 1', 'avx2', 0)];
    const lines = hostsMarkdown([a, b, run('c', 2, [5])]);
    expect(lines.slice(1)).to.deep.equal([
      '- Zen 1 (2 cores) · wasm + native avx2 · 1 thread · abc1234: a/seed-1, b/seed-1',
      '- Zen 4 (2 cores) · wasm + native avx512vnni · 1 thread · abc1234: a/seed-1',
      '- not recorded (trained before runs kept hosts.json): c/seed-2',
    ]);
  });
});
