import { expect } from 'chai';
import {
  equivalenceTest,
  mean,
  minimumDetectableEffect,
  noncentralTCdf,
  pairedTTest,
  regularizedIncompleteBeta,
  std,
  studentTCdf,
  studentTQuantile,
  welchTTest,
} from '../../src/ablate/stats.ts';

describe('ablate/stats', () => {
  it('mean and sample standard deviation (n − 1)', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(xs)).to.equal(5);
    expect(std(xs)).to.be.closeTo(Math.sqrt(32 / 7), 1e-12);
    expect(std([3])).to.be.NaN;
    expect(mean([])).to.be.NaN;
  });

  it('regularized incomplete beta matches its closed forms', () => {
    for (const x of [0.01, 0.2, 0.5, 0.77, 0.99]) {
      expect(regularizedIncompleteBeta(x, 3.5, 1), `I_x(a,1) = x^a at ${x}`).to.be.closeTo(x ** 3.5, 1e-12);
      expect(regularizedIncompleteBeta(x, 1, 2.5), `I_x(1,b) = 1-(1-x)^b at ${x}`).to.be.closeTo(1 - (1 - x) ** 2.5, 1e-12);
    }
    expect(regularizedIncompleteBeta(0.5, 7.3, 7.3)).to.be.closeTo(0.5, 1e-10);
    expect(regularizedIncompleteBeta(0, 2, 3)).to.equal(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).to.equal(1);
    expect(() => regularizedIncompleteBeta(1.5, 2, 3)).to.throw(RangeError);
  });

  it('Student t CDF: closed forms for df 1 and 2, and scipy.stats.t.cdf values', () => {
    for (const t of [-7, -1.3, 0, 0.4, 2, 12.706]) {
      expect(studentTCdf(t, 1), `Cauchy at ${t}`).to.be.closeTo(0.5 + Math.atan(t) / Math.PI, 1e-12);
      expect(studentTCdf(t, 2), `df 2 at ${t}`).to.be.closeTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-12);
    }
    // scipy 1.17: stats.t.cdf(t, df)
    const table: [number, number, number][] = [
      [2.0, 1, 0.8524163823495667],
      [1.0, 5, 0.8183912661754386],
      [2.228, 10, 0.9749941140914443],
      [-1.5, 3.5, 0.10890909350767251],
      [0.5, 30, 0.6896384975574363],
      [12.706, 1, 0.9749995988209335],
    ];
    for (const [t, df, want] of table) expect(studentTCdf(t, df), `t=${t} df=${df}`).to.be.closeTo(want, 1e-10);
    // the textbook two-sided 5% critical values
    expect(2 * (1 - studentTCdf(2.228, 10))).to.be.closeTo(0.05, 1e-4);
    expect(2 * (1 - studentTCdf(1.96, 1e6))).to.be.closeTo(0.05, 1e-4);
  });

  it("Welch's t-test matches scipy.stats.ttest_ind(a, b, equal_var=False)", () => {
    // scipy 1.17 results, printed with full precision.
    const cases: { a: number[]; b: number[]; t: number; df: number; p: number }[] = [
      { a: [1, 2, 3, 4, 5], b: [2, 4, 6, 8, 10], t: -1.8973665961010275, df: 5.882352941176471, p: 0.10753119493062728 },
      { a: [4.12, 4.08, 4.15], b: [4.31, 4.25, 4.4], t: -4.229588996217355, df: 2.826788631166287, p: 0.027184568001484964 },
      {
        // Wikipedia's Welch example A1/A2: t = −2.46, df ≈ 25.0, p = 0.021
        a: [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4],
        b: [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4],
        t: -2.455356398286006,
        df: 24.988529290231416,
        p: 0.021378001462866992,
      },
    ];
    for (const c of cases) {
      const r = welchTTest(c.a, c.b)!;
      expect(r.t).to.be.closeTo(c.t, 1e-10);
      expect(r.df).to.be.closeTo(c.df, 1e-9);
      expect(r.p).to.be.closeTo(c.p, 1e-9);
      expect(r.diff).to.be.closeTo(mean(c.a) - mean(c.b), 1e-12);
      // symmetric in its arguments up to the sign of t
      const s = welchTTest(c.b, c.a)!;
      expect(s.t).to.be.closeTo(-c.t, 1e-10);
      expect(s.p).to.be.closeTo(c.p, 1e-9);
    }
  });

  it('Welch is undefined with fewer than two values a side or no variance at all', () => {
    expect(welchTTest([1], [1, 2, 3])).to.equal(null);
    expect(welchTTest([2, 2], [2, 2])).to.equal(null);
    // One side constant is fine: t = −2/√(1/3), df = 2, and for df 2 the two-sided p is 1 − |t|/√(2 + t²).
    const r = welchTTest([2, 2, 2], [3, 4, 5])!;
    const t = -2 / Math.sqrt(1 / 3);
    expect(r.t).to.be.closeTo(t, 1e-12);
    expect(r.df).to.be.closeTo(2, 1e-12);
    expect(r.p).to.be.closeTo(1 - Math.abs(t) / Math.sqrt(2 + t * t), 1e-10);
  });

  // The values below were computed with scipy 1.17.1 (scipy.stats.t.ppf, scipy.stats.nct.cdf,
  // scipy.stats.ttest_rel(...).confidence_interval(0.95), and for TOST two scipy.stats.ttest_1samp calls
  // with alternative 'greater' at -margin and 'less' at +margin); the MDE with scipy.optimize.brentq on
  // nct.sf(tc, n-1, d*sqrt(n)/sd) + nct.cdf(-tc, n-1, d*sqrt(n)/sd) = 0.8, tc = t.ppf(0.975, n-1).
  it('Student t quantiles match scipy.stats.t.ppf (whole and fractional df)', () => {
    const cases: [number, number, number][] = [
      [0.975, 1, 12.7062047362], [0.95, 1, 6.31375151468], [0.8, 1, 1.37638192047],
      [0.975, 2, 4.30265272975], [0.95, 2, 2.91998558035], [0.8, 2, 1.06066017178],
      [0.975, 3, 3.18244630528], [0.975, 4, 2.7764451052], [0.8, 4, 0.940964577235],
      [0.975, 7, 2.36462425159], [0.95, 10, 1.81246112281], [0.975, 30, 2.0422724563], [0.975, 2.5, 3.574654842],
    ];
    for (const [p, df, x] of cases) expect(studentTQuantile(p, df), `t.ppf(${p}, ${df})`).to.be.closeTo(x, 1e-9 * Math.max(1, x));
    expect(studentTQuantile(0.025, 4)).to.be.closeTo(-2.7764451052, 1e-9);
    expect(studentTQuantile(0.5, 3)).to.equal(0);
  });

  it('the noncentral t CDF matches scipy.stats.nct.cdf', () => {
    const cases: [number, number, number, number][] = [
      [2, 3, 1.5, 0.599676268371], [1, 5, 0, 0.818391266175], [-1, 4, 0.5, 0.0861495690366],
      [3.5, 7, 4, 0.319135311917], [0.5, 2, -1, 0.920304260068], [4.30265272975, 2, 6, 0.1642618802], [2, 10, 8, 2.35370913117e-8],
    ];
    for (const [x, df, nc, p] of cases) expect(noncentralTCdf(x, df, nc), `nct.cdf(${x}, ${df}, ${nc})`).to.be.closeTo(p, 1e-10);
    // delta 0 is the central t
    expect(noncentralTCdf(1.3, 6, 0)).to.be.closeTo(studentTCdf(1.3, 6), 1e-12);
  });

  it('the paired t-test and its 95 % CI match scipy.stats.ttest_rel', () => {
    const r = pairedTTest([5.12, 5.08, 5.15, 5.11], [5.05, 5.03, 5.09, 5.02]);
    expect(r.n).to.equal(4);
    expect(r.diff).to.be.closeTo(0.0675, 1e-12);
    expect(r.sd).to.be.closeTo(0.01707825127659966, 1e-12);
    expect(r.t).to.be.closeTo(7.904790590883007, 1e-9);
    expect(r.p).to.be.closeTo(0.004220149772752675, 1e-10);
    expect(r.ci95![0]).to.be.closeTo(0.04032469116203966, 1e-10);
    expect(r.ci95![1]).to.be.closeTo(0.09467530883796102, 1e-10);
    const q = pairedTTest([5.71, 5.69, 5.74], [5.7, 5.72, 5.69]);
    expect(q.p).to.be.closeTo(0.707229978115435, 1e-10);
    expect(q.ci95![0]).to.be.closeTo(-0.0893655084700121, 1e-10);
    expect(q.ci95![1]).to.be.closeTo(0.10936550847001225, 1e-10);
    expect(pairedTTest([1], [2]).ci95).to.equal(null);
    expect(() => pairedTTest([1, 2], [1])).to.throw(RangeError);
  });

  it('TOST equivalence: both one-sided p-values as scipy gives them, the verdict and the 90 % CI', () => {
    const e = equivalenceTest([5.12, 5.08, 5.15, 5.11], [5.05, 5.03, 5.09, 5.02], 0.1)!;
    expect(e.p).to.be.closeTo(0.015937097551779765, 1e-10); // max(0.000144739823708762, 0.015937097551779765)
    expect(e.equivalent).to.equal(true);
    expect(e.ci[1]).to.be.below(0.1);
    const f = equivalenceTest([5.71, 5.69, 5.74], [5.7, 5.72, 5.69], 0.02)!;
    expect(f.p).to.be.closeTo(0.35361498905771976, 1e-10); // max(0.16175928739872464, 0.35361498905771976)
    expect(f.equivalent).to.equal(false);
    expect(f.ci[0]).to.be.closeTo(-0.057434178433881204, 1e-10);
    expect(f.ci[1]).to.be.closeTo(0.07743417843388131, 1e-10);
    expect(equivalenceTest([1, 1], [1, 1], 0.1)).to.equal(null);
  });

  it('the minimum detectable effect (paired, alpha 0.05, power 0.8) matches the noncentral-t solution', () => {
    const cases: [number, number, number][] = [[0.01, 3, 0.0326404355], [0.02, 4, 0.04255898687], [0.015, 5, 0.02522995449], [0.01, 8, 0.01156034678]];
    for (const [sd, n, mde] of cases) expect(minimumDetectableEffect(sd, n), `sd ${sd}, n ${n}`).to.be.closeTo(mde, 1e-8);
    expect(Number.isNaN(minimumDetectableEffect(0.01, 1))).to.equal(true);
  });
});
