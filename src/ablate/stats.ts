/**
 * The statistics of a report: mean and sample standard deviation over seeds (mathjs), and Welch's
 * unequal-variance t-test between an arm and the baseline. mathjs has no Student t distribution, so
 * its CDF is computed here from the regularized incomplete beta function (a Lentz continued fraction,
 * Numerical Recipes §6.4) with mathjs's log-gamma; tests hold it to scipy's values.
 */
import { lgamma, mean as mMean, std as mStd } from 'mathjs';

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : (mMean([...xs]) as number);
}

/** Sample standard deviation (n − 1); NaN below two values. */
export function std(xs: readonly number[]): number {
  return xs.length < 2 ? NaN : (mStd([...xs], 'unbiased') as unknown as number);
}

/** Continued fraction of the incomplete beta function, modified Lentz. */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPS = 1e-15;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    // even step
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    // odd step
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  throw new Error(`incomplete beta: no convergence for x=${x}, a=${a}, b=${b}`);
}

/** I_x(a, b), the regularized incomplete beta function, for a, b > 0 and x in [0, 1]. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`incomplete beta: a and b must be positive (a=${a}, b=${b})`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta: x must be in [0, 1] (x=${x})`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The fraction converges fast for x < (a+1)/(a+b+2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** CDF of Student's t distribution with `df` (> 0, not necessarily whole) degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`t distribution: df must be positive (df=${df})`);
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

export interface WelchResult {
  /** mean(a) − mean(b) */
  diff: number;
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Welch's t-test of mean(a) = mean(b), as scipy.stats.ttest_ind(a, b, equal_var=False). Null when
 * either side has fewer than two values or both have zero variance (the test is undefined then).
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult | null {
  if (a.length < 2 || b.length < 2) return null;
  const va = std(a) ** 2 / a.length;
  const vb = std(b) ** 2 / b.length;
  if (va + vb === 0) return null;
  const diff = mean(a) - mean(b);
  const t = diff / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const p = regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
  return { diff, t, df, p };
}
