/**
 * Per-token (per-row) absmax activation quantization (DESIGN.md "The math"):
 *   s = Q / max(max|x|, ε); q = clamp(round(x·s), lo, hi); value = q / s
 * int8: Q = 127, [−128, 127]; int4 (BitNet a4.8): Q = 7, [−8, 7].
 * Every step is rounded to float32 (Math.fround) in the order of ste.ts's graph. Max is exact and each
 * float32 op is correctly rounded on both tfjs backends, so these values are bit-identical to tfjs's.
 */
import { EPS, roundHalfEven } from './round.ts';

export type ActBits = 8 | 4;

const RANGES: Record<ActBits, { qmax: number; lo: number; hi: number }> = {
  8: { qmax: 127, lo: -128, hi: 127 },
  4: { qmax: 7, lo: -8, hi: 7 },
};

/** The range of a bit width; shared with the tfjs graph so both clamp alike. */
export function actRange(bits: ActBits): { qmax: number; lo: number; hi: number } {
  const r = RANGES[bits];
  if (r === undefined) throw new RangeError(`activation bits must be 8 or 4, got ${String(bits)}`);
  return r;
}

/** Integer codes (row-major like x) and one scale s per row (the multiplier, value = q / s). */
export interface QuantizedActivations {
  q: Int8Array;
  scales: Float32Array;
}

/** Quantizes rows of `d` values (x is [rows, d] row-major); x must be finite. */
export function quantizeActivations(x: Float32Array, d: number, bits: ActBits): QuantizedActivations {
  const { qmax, lo, hi } = actRange(bits);
  if (!Number.isInteger(d) || d <= 0 || x.length % d !== 0)
    throw new RangeError(`quantizeActivations: row length d = ${d} must be a positive integer dividing x.length ${x.length}`);
  const rows = x.length / d;
  const q = new Int8Array(x.length);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let i = r * d; i < (r + 1) * d; i++) m = Math.max(m, Math.abs(x[i]!));
    const s = Math.fround(qmax / Math.max(m, EPS));
    scales[r] = s;
    for (let i = r * d; i < (r + 1) * d; i++) q[i] = Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(x[i]! * s))));
  }
  return { q, scales };
}

/** The fake-quant values q / s that the quantized BitLinear sees, same shape as x. */
export function fakeQuantActivations(x: Float32Array, d: number, bits: ActBits): Float32Array {
  const { q, scales } = quantizeActivations(x, d, bits);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = q[i]! / scales[Math.floor(i / d)]!;
  return out;
}
