/**
 * Post-training quantization (the baseline QAT is compared with): a trained full-precision weight matrix
 * [rows = out, cols = in] rounded to nearest once, no retraining, no calibration:
 *   ternary   b1.58's absmean per tensor (quantizeTernary): value = β·clamp(round(W/β), −1, 1)
 *   binary    BitNet v1's sign around the mean per tensor (quantizeBinary), value = β·sign
 *   int4:G    symmetric absmax per group of G input columns: s = max|w|/7, code = clamp(round(w/s), −8, 7)
 *   int8      symmetric absmax per output row: s = max|w|/127, code = clamp(round(w/s), −128, 127)
 * (round half to even everywhere). The RTN int4/int8 are what GPTQ/AWQ-style deployments start from.
 * Bits per weight count the codes and one fp16 scale per granule.
 */
import { EPS, roundHalfEven } from './round.ts';
import { dequantize, quantizeBinary, quantizeTernary } from './weights.ts';

export type PtqScheme = { kind: 'ternary' } | { kind: 'binary' } | { kind: 'int'; bits: 4 | 8; group: number | 'row' };

/** "ternary", "binary", "int4:G" (G a positive integer) or "int8"; null if it is none of these. */
export function parsePtqScheme(s: string): PtqScheme | null {
  if (s === 'ternary' || s === 'binary') return { kind: s };
  if (s === 'int8') return { kind: 'int', bits: 8, group: 'row' };
  const m = /^int4:(\d+)$/.exec(s);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 1 << 16) return { kind: 'int', bits: 4, group: Number(m[1]) };
  return null;
}

export function ptqName(s: PtqScheme): string {
  return s.kind === 'int' ? (s.bits === 8 ? 'int8' : `int4:${s.group}`) : s.kind;
}

/** Stored bits per weight of a [rows, cols] matrix: the codes plus an fp16 scale per granule. */
export function ptqBitsPerWeight(s: PtqScheme, rows: number, cols: number): number {
  if (s.kind === 'ternary') return Math.log2(3) + 16 / (rows * cols);
  if (s.kind === 'binary') return 1 + 16 / (rows * cols);
  return s.bits + 16 / (s.group === 'row' ? cols : s.group);
}

/** The quantized-then-dequantized values of W, row-major [rows, cols]. */
export function ptqDequantize(w: Float32Array, rows: number, cols: number, s: PtqScheme): Float32Array {
  if (w.length !== rows * cols) throw new RangeError(`ptqDequantize: ${w.length} values, expected ${rows}·${cols}`);
  if (s.kind === 'ternary') return dequantize(quantizeTernary(w, rows, cols, { kind: 'tensor' }));
  if (s.kind === 'binary') return dequantize(quantizeBinary(w, rows, cols, { kind: 'tensor' }));
  const g = s.group === 'row' ? cols : s.group;
  if (cols % g !== 0) throw new RangeError(`ptqDequantize: group ${g} does not divide cols ${cols}`);
  const qmax = (1 << (s.bits - 1)) - 1;
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++)
    for (let c0 = 0; c0 < cols; c0 += g) {
      const o = r * cols + c0;
      let m = 0;
      for (let j = 0; j < g; j++) m = Math.max(m, Math.abs(w[o + j]!));
      const scale = Math.fround(Math.max(m, EPS) / qmax);
      for (let j = 0; j < g; j++) out[o + j] = Math.fround(Math.min(qmax, Math.max(-qmax - 1, roundHalfEven(Math.fround(w[o + j]! / scale)))) * scale);
    }
  return out;
}
