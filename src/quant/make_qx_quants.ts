/**
 * llama.cpp's make_qx_quants (ggml/src/ggml-quants.c), the scale search of its K-quant reference
 * quantizers, in the one form quantize_row_q6_K_ref uses: rmse_type 1 (weights w = x²), no importance
 * matrix. Implemented from its definition, every operation in float32 as the C code does (Math.fround
 * after each step), so the codes and scales come out bit for bit the same:
 *
 *   max = the x of largest magnitude (the first on a tie); if |max| < 1e-15: all codes 0, scale 0.
 *   For iscale = −nmax/max, then −(nmax + 0.1·is)/max for is = −9..9 (is ≠ 0):
 *     l = clamp(nearest_int(iscale·x), −nmax, nmax − 1)       (nearest_int: halves to even)
 *     sumlx = Σ (w·x)·l, suml2 = Σ (w·l)·l                     (in element order)
 *   the first candidate sets scale = sumlx/suml2 (0 if suml2 = 0) and best = scale·sumlx; a later one
 *   replaces both, and the codes, when suml2 > 0 and sumlx·sumlx > best·suml2.
 *   Codes are stored as L = l + nmax (0 .. 2·nmax − 1).
 *
 * Byte identity holds against a build that does not fuse `sumlx += w*x*l` into an FMA (x86-64 without
 * -march=native, or -ffp-contract=off); a build that fuses may differ on near ties of the comparison.
 */
import { roundHalfEven } from './round.ts';

const f = Math.fround;
/** ggml's GROUP_MAX_EPS (a float). */
const GROUP_MAX_EPS = f(1e-15);

/** ggml's nearest_int: round to nearest, halves to even (its 1.5·2^23 trick, valid for |v| < 2^22). */
export const nearestInt = roundHalfEven;

/** Σ (w·x)·l and Σ (w·l)·l of one candidate, its codes (L = l + nmax) written to `L` when given. */
function candidate(x: Float32Array, o: number, n: number, nmax: number, iscale: number, L?: Int8Array, lo = 0): [number, number] {
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[o + i]!;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * xi))));
    if (L) L[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumlx = f(sumlx + f(f(w * xi) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  return [sumlx, suml2];
}

/** The scale of the n values at x[o..] with codes in [0, 2·nmax) written to L[lo..]; see the module comment. */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, o: number, L: Int8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[o + i]!;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let [sumlx, suml2] = candidate(x, o, n, nmax, f(-nmax / max), L, lo);
  let scale = suml2 !== 0 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    const iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    [sumlx, suml2] = candidate(x, o, n, nmax, iscale);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      candidate(x, o, n, nmax, iscale, L, lo);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}
