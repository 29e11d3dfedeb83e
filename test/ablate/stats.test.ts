import { expect } from 'chai';
import { mean, regularizedIncompleteBeta, std, studentTCdf, welchTTest } from '../../src/ablate/stats.ts';

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
});
