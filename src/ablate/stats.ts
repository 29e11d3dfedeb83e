/**
 * The statistics of a report. Arms that share a seed share their initial weights and data order, so an
 * arm is compared with the baseline seed by seed: the paired difference, its mean with a 95 % confidence
 * interval (Student t), the paired t-test, an equivalence verdict by two one-sided tests (TOST) against a
 * margin the study states, and the minimum detectable effect at the study's n and observed spread (the
 * smallest true difference the paired test would find with 80 % power at α = 0.05, from the noncentral t
 * distribution). Welch's unequal-variance test is kept for unpaired designs.
 *
 * mathjs gives mean, std, log-gamma and erf; it has no t distribution, so the Student t CDF comes from the
 * regularized incomplete beta function (a Lentz continued fraction, Numerical Recipes §6.4), its quantile
 * by bisection, and the noncentral t CDF from Lenth's series (AS 243, Applied Statistics 38, 1989). Tests
 * hold every one of them to scipy.stats values.
 */
import { erf, lgamma, mean as mMean, std as mStd } from 'mathjs';

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

/** Quantile of Student's t: the x with studentTCdf(x, df) = p, for p in (0, 1) (bisection to 1e-13). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`t quantile: p must be in (0, 1) (p=${p})`);
  if (p === 0.5) return 0;
  let lo = -1;
  let hi = 1;
  while (studentTCdf(lo, df) > p) lo *= 2;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * Math.max(1, Math.abs(hi)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * (1 + (erf(x / Math.SQRT2) as number));
}

/**
 * CDF of the noncentral t distribution with `df` degrees of freedom and noncentrality `delta` (AS 243,
 * Lenth 1989: a series in the incomplete beta function weighted by Poisson terms, to a 1e-12 error bound).
 */
export function noncentralTCdf(t: number, df: number, delta: number): number {
  if (!(df > 0)) throw new RangeError(`noncentral t: df must be positive (df=${df})`);
  const negative = t < 0;
  const tt = negative ? -t : t;
  const del = negative ? -delta : delta;
  let tnc = 0;
  const x = (tt * tt) / (tt * tt + df);
  if (x > 0) {
    const lambda = del * del;
    let p = 0.5 * Math.exp(-0.5 * lambda);
    let q = Math.sqrt(2 / Math.PI) * p * del;
    let s = 0.5 - p;
    let a = 0.5;
    const b = 0.5 * df;
    const rxb = Math.pow(1 - x, b);
    const logBeta = lgamma(a) + lgamma(b) - lgamma(a + b);
    let xodd = regularizedIncompleteBeta(x, a, b);
    let godd = 2 * rxb * Math.exp(a * Math.log(x) - logBeta);
    let xeven = 1 - rxb;
    let geven = b * x * rxb;
    tnc = p * xodd + q * xeven;
    for (let en = 1; en <= 10_000; en++) {
      a += 1;
      xodd -= godd;
      xeven -= geven;
      godd *= (x * (a + b - 1)) / a;
      geven *= (x * (a + b - 0.5)) / (a + 0.5);
      p *= lambda / (2 * en);
      q *= lambda / (2 * en + 1);
      s -= p;
      tnc += p * xodd + q * xeven;
      if (2 * s * (xodd - godd) <= 1e-12) break;
    }
  }
  tnc += normalCdf(-del);
  return negative ? 1 - tnc : Math.min(1, Math.max(0, tnc));
}

export interface PairedResult {
  /** Pairs (seeds present in both arms). */
  n: number;
  /** mean(a_i − b_i) */
  diff: number;
  /** Sample standard deviation of the differences. */
  sd: number;
  /** 95 % confidence interval of the mean difference (Student t, n − 1 degrees of freedom); null below 2 pairs. */
  ci95: [number, number] | null;
  /** Paired t-test of diff = 0, two-sided; null below 2 pairs or with zero spread. */
  p: number | null;
  t: number | null;
}

/** The paired comparison of a[i] with b[i] (as scipy.stats.ttest_rel(a, b) and its confidence_interval). */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedResult {
  if (a.length !== b.length) throw new RangeError(`paired test: ${a.length} and ${b.length} values`);
  const d = a.map((x, i) => x - b[i]!);
  const n = d.length;
  const diff = mean(d);
  const sd = std(d);
  if (n < 2) return { n, diff, sd, ci95: null, p: null, t: null };
  const se = sd / Math.sqrt(n);
  const half = studentTQuantile(0.975, n - 1) * se;
  if (se === 0) return { n, diff, sd, ci95: [diff, diff], p: null, t: null };
  const t = diff / se;
  return { n, diff, sd, ci95: [diff - half, diff + half], p: regularizedIncompleteBeta((n - 1) / (n - 1 + t * t), (n - 1) / 2, 0.5), t };
}

export interface EquivalenceResult {
  margin: number;
  /** max of the two one-sided p-values: below alpha, the difference is within ±margin. */
  p: number;
  equivalent: boolean;
  /** The (1 − 2·alpha) confidence interval: inside ±margin exactly when equivalent. */
  ci: [number, number];
}

/**
 * Two one-sided paired t-tests (TOST) of |mean(a − b)| < margin at level alpha: H0 diff <= −margin
 * rejected and H0 diff >= +margin rejected. Null below 2 pairs or with zero spread.
 */
export function equivalenceTest(a: readonly number[], b: readonly number[], margin: number, alpha = 0.05): EquivalenceResult | null {
  if (!(margin > 0)) throw new RangeError(`equivalence: margin must be positive (margin=${margin})`);
  const r = pairedTTest(a, b);
  if (r.n < 2 || !(r.sd > 0)) return null;
  const se = r.sd / Math.sqrt(r.n);
  const df = r.n - 1;
  const pLower = 1 - studentTCdf((r.diff + margin) / se, df); // H0: diff <= -margin
  const pUpper = studentTCdf((r.diff - margin) / se, df); // H0: diff >= +margin
  const p = Math.max(pLower, pUpper);
  const half = studentTQuantile(1 - alpha, df) * se;
  return { margin, p, equivalent: p < alpha, ci: [r.diff - half, r.diff + half] };
}

/**
 * The minimum detectable effect of a two-sided paired t-test at level alpha with the given power: the
 * true mean difference δ for which P(|T| > t_{1−α/2, n−1}) = power, T noncentral t with n − 1 degrees of
 * freedom and noncentrality δ·√n/sd. NaN below 2 pairs or with zero spread.
 */
export function minimumDetectableEffect(sd: number, n: number, alpha = 0.05, power = 0.8): number {
  if (n < 2 || !(sd > 0)) return NaN;
  const df = n - 1;
  const tc = studentTQuantile(1 - alpha / 2, df);
  const powerAt = (delta: number) => {
    const nc = (delta * Math.sqrt(n)) / sd;
    return 1 - noncentralTCdf(tc, df, nc) + noncentralTCdf(-tc, df, nc);
  };
  let lo = 0;
  let hi = sd;
  while (powerAt(hi) < power) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (powerAt(mid) < power) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
