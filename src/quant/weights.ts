/**
 * Weight quantizers (DESIGN.md "The math") on a row-major Float32Array W of shape [rows = out,
 * cols = in]:
 *   ternary (b1.58, absmean): β = mean|W|; code = clamp(round(W / max(β, ε)), −1, 1); value = β·code
 *   binary (BitNet v1):       α = mean(W); code = W − α > 0 ? +1 : −1; β = mean|W|; value = β·code
 * with one β per granule: the tensor, an output row, or g consecutive input columns of a row.
 *
 * Float32 semantics, so that the codes equal what the tfjs graph of ste.ts gives: a granule's mean is
 * its float32 sum (accumulated in double in row-major order and rounded once, as tfjs's cpu `sum` does)
 * divided by the element count in float32, and W / β is a float32 division. The cpu backend then gives
 * the same bits; wasm sums in float32 and can differ in β's last bits (see test/quant/ste.test.ts).
 */
import { EPS, roundHalfEven } from './round.ts';

/** Scale granularity: one β per tensor (the papers), per output row, or per group of `size` input columns. */
export type Granularity = { kind: 'tensor' } | { kind: 'row' } | { kind: 'group'; size: number };

/**
 * Integer codes and their scales. `scales` is laid out [1] (tensor), [rows] (row) or
 * [rows, cols / size] row-major (group); `scaleOf` finds an element's scale.
 */
export interface QuantizedWeights {
  codes: Int8Array;
  scales: Float32Array;
  rows: number;
  cols: number;
  granularity: Granularity;
}

/** How a [rows, cols] matrix splits into granules: `perRow` granules of `width` columns each row. */
interface Layout {
  rows: number;
  cols: number;
  width: number;
  perRow: number;
  count: number;
  /** Elements per granule. */
  n: number;
  tensor: boolean;
}

function layout(length: number, rows: number, cols: number, g: Granularity, fn: string): Layout {
  if (!Number.isInteger(rows) || rows <= 0) throw new RangeError(`${fn}: rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols <= 0) throw new RangeError(`${fn}: cols must be a positive integer, got ${cols}`);
  if (length !== rows * cols) throw new RangeError(`${fn}: ${length} values, expected rows·cols = ${rows * cols}`);
  switch (g.kind) {
    case 'tensor':
      return { rows, cols, width: cols, perRow: 1, count: 1, n: rows * cols, tensor: true };
    case 'row':
      return { rows, cols, width: cols, perRow: 1, count: rows, n: cols, tensor: false };
    case 'group': {
      const s = g.size;
      if (!Number.isInteger(s) || s <= 0) throw new RangeError(`${fn}: group size must be a positive integer, got ${s}`);
      if (cols % s !== 0) throw new RangeError(`${fn}: group size ${s} does not divide cols ${cols}`);
      return { rows, cols, width: s, perRow: cols / s, count: rows * (cols / s), n: s, tensor: false };
    }
  }
}

function granuleIndex(L: Layout, r: number, c: number): number {
  return L.tensor ? 0 : r * L.perRow + Math.floor(c / L.width);
}

/** Float32 mean of f(W) over each granule, in the order and rounding described above. */
function granuleMeans(w: Float32Array, L: Layout, f: (v: number) => number): Float32Array {
  const sums = new Float64Array(L.count);
  for (let r = 0; r < L.rows; r++)
    for (let c = 0; c < L.cols; c++) sums[granuleIndex(L, r, c)]! += f(w[r * L.cols + c]!);
  const n = Math.fround(L.n);
  const out = new Float32Array(L.count);
  for (let k = 0; k < L.count; k++) out[k] = Math.fround(sums[k]!) / n;
  return out;
}

function codesFrom(w: Float32Array, L: Layout, code: (v: number, k: number) => number): Int8Array {
  const codes = new Int8Array(w.length);
  for (let r = 0; r < L.rows; r++)
    for (let c = 0; c < L.cols; c++) codes[r * L.cols + c] = code(w[r * L.cols + c]!, granuleIndex(L, r, c));
  return codes;
}

/** b1.58 absmean ternary quantization: codes in {−1, 0, 1}, β = mean|W| per granule. */
export function quantizeTernary(w: Float32Array, rows: number, cols: number, granularity: Granularity): QuantizedWeights {
  const L = layout(w.length, rows, cols, granularity, 'quantizeTernary');
  const scales = granuleMeans(w, L, Math.abs);
  const codes = codesFrom(w, L, (v, k) => Math.min(1, Math.max(-1, roundHalfEven(Math.fround(v / Math.max(scales[k]!, EPS))))));
  return { codes, scales, rows, cols, granularity };
}

/** BitNet v1 binary quantization: codes ±1 by sign around the granule mean α, β = mean|W|. */
export function quantizeBinary(w: Float32Array, rows: number, cols: number, granularity: Granularity): QuantizedWeights {
  const L = layout(w.length, rows, cols, granularity, 'quantizeBinary');
  const alpha = granuleMeans(w, L, (v) => v);
  const scales = granuleMeans(w, L, Math.abs);
  // fround(W − α) > 0 exactly when W > α (float subtraction is zero only for equal operands), written
  // as the formula so that it reads like the tfjs graph.
  const codes = codesFrom(w, L, (v, k) => (Math.fround(v - alpha[k]!) > 0 ? 1 : -1));
  return { codes, scales, rows, cols, granularity };
}

/** The scale that applies to element (r, c). */
export function scaleOf(q: QuantizedWeights, r: number, c: number): number {
  const L = layout(q.codes.length, q.rows, q.cols, q.granularity, 'scaleOf');
  if (!(r >= 0 && r < q.rows && c >= 0 && c < q.cols)) throw new RangeError(`scaleOf: (${r}, ${c}) is outside [${q.rows}, ${q.cols}]`);
  return q.scales[granuleIndex(L, r, c)]!;
}

/** The fake-quant values β·code, row-major [rows, cols] (exact: a code is −1, 0 or 1). */
export function dequantize(q: QuantizedWeights): Float32Array {
  const L = layout(q.codes.length, q.rows, q.cols, q.granularity, 'dequantize');
  if (q.scales.length !== L.count) throw new RangeError(`dequantize: ${q.scales.length} scales, expected ${L.count}`);
  const out = new Float32Array(q.codes.length);
  for (let r = 0; r < q.rows; r++)
    for (let c = 0; c < q.cols; c++) out[r * q.cols + c] = q.codes[r * q.cols + c]! * q.scales[granuleIndex(L, r, c)]!;
  return out;
}

/**
 * One scale per block of `block` consecutive weights of a row (the d of each TQ1_0/TQ2_0 block, before
 * its fp16 rounding). Throws where a block would need two scales: a group size that neither divides
 * nor is a multiple of the block, with different scales inside one block.
 */
export function blockScales(q: QuantizedWeights, block: number): Float32Array {
  const L = layout(q.codes.length, q.rows, q.cols, q.granularity, 'blockScales');
  if (!Number.isInteger(block) || block <= 0 || q.cols % block !== 0)
    throw new RangeError(`blockScales: block ${block} must be a positive integer dividing cols ${q.cols}`);
  const perRow = q.cols / block;
  const out = new Float32Array(q.rows * perRow);
  for (let r = 0; r < q.rows; r++)
    for (let b = 0; b < perRow; b++) {
      const s = q.scales[granuleIndex(L, r, b * block)]!;
      for (let c = b * block + 1; c < (b + 1) * block; c++)
        if (!Object.is(q.scales[granuleIndex(L, r, c)], s))
          throw new RangeError(`blockScales: row ${r} block ${b} spans groups of ${L.width} columns with different scales`);
      out[r * perRow + b] = s;
    }
  return out;
}
