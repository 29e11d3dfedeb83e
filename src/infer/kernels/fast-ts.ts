/**
 * The TypeScript engine's fast ternary kernel (the addon-free path): the reference's arithmetic, found
 * by table lookup instead of bit by bit (the T-MAC / TL idea). A packed byte holds the codes of four
 * columns (m, m+32, m+64, m+96 of its block), so for each byte position k of a row and each token a
 * 256-entry table T_k[b] = Σ_q (code_q(b) − 1)·x[col_q] is built once (256 adds), and every row then
 * costs one lookup and one add per byte: Σ_k T_k[packed[r, k]] is the row's exact integer sum. The
 * tables cost 64 adds per column per token and pay from a few dozen rows on.
 *
 * Same integer sums, same double rescale in the same order as referenceKernels.ternaryMatmulScaled,
 * so the outputs are identical (tested); groups that split a block (multiples of 32 columns) split a
 * byte between scales and are decoded field by field instead (scaledFields); other sizes go to the
 * reference.
 *
 * The float matmuls (the output head) are the reference's loops without its per-element closure and
 * with fp16 read through a table (src/quant/fp16.ts f16Table) instead of a formula with a power: the
 * same sums in the same order, so the same floats.
 */
import type { EngineKernels } from '../../native/engine-kernels.ts';
import { BLOCK_BYTES, BLOCK_COLS, packedRowBytes } from './layout.ts';
import { f16Table } from '../../quant/fp16.ts';
import { checkFloatMatmul, checkTernaryScaled, referenceKernels } from './reference.ts';

/** Below this many rows building the tables costs more than the lookups save. */
const MIN_ROWS = 16;

let table = new Int16Array(0); // [rowBytes][256], reused across calls
const lo16 = new Int32Array(16);
const e = new Int32Array(16); // e[4q + c] = (c − 1)·x_q

/** Fills table[k·256 + b] for the padded activations of one token (xq[x0 .. x0 + cols)). */
function buildTables(xq: Int8Array, x0: number, cols: number, rowBytes: number): void {
  for (let k = 0; k < rowBytes; k++) {
    const col = (k >> 5) * BLOCK_COLS + (k & 31);
    for (let q = 0; q < 4; q++) {
      const c = col + 32 * q;
      const x = c < cols ? xq[x0 + c]! : 0; // padding columns carry code 1 (t = 0) anyway
      e[4 * q] = -x;
      e[4 * q + 1] = 0;
      e[4 * q + 2] = x;
      e[4 * q + 3] = 2 * x; // code 3 (never written) reads as t = 2, as in the reference
    }
    for (let lo = 0; lo < 16; lo++) lo16[lo] = e[lo & 3]! + e[4 + (lo >> 2)]!;
    const o = k << 8;
    for (let hi = 0; hi < 16; hi++) {
      const s = e[8 + (hi & 3)]! + e[12 + (hi >> 2)]!;
      const oh = o + (hi << 4);
      for (let lo = 0; lo < 16; lo++) table[oh + lo] = s + lo16[lo]!;
    }
  }
}

/**
 * Groups that split a block (multiples of 32 columns: every 32-column field of a block lies in one
 * group), as native/src/ternary.cc's scaled_fields: the codes decoded field by field with shifts
 * (no tables: a byte's four codes go to different groups), the same integer sums per group and the
 * reference's double rescale.
 */
function scaledFields(
  packed: Uint8Array, rows: number, cols: number, xq: Int8Array, sx: Float32Array, n: number, scale: Float32Array, group: number, y: Float32Array,
): void {
  const rowBytes = packedRowBytes(cols);
  const groups = Math.ceil(cols / group);
  const acc = new Int32Array(groups);
  for (let i = 0; i < n; i++) {
    const x0 = i * cols;
    for (let r = 0; r < rows; r++) {
      acc.fill(0);
      for (let j = 0; j * BLOCK_COLS < cols; j++) {
        const base = r * rowBytes + j * BLOCK_BYTES;
        for (let f = 0; f < 4; f++) {
          const col0 = j * BLOCK_COLS + 32 * f;
          if (col0 >= cols) break;
          const m1 = Math.min(32, cols - col0);
          let s = 0;
          for (let m = 0; m < m1; m++) s += (((packed[base + m]! >> (2 * f)) & 3) - 1) * xq[x0 + col0 + m]!;
          acc[Math.floor(col0 / group)] += s;
        }
      }
      let v = 0; // double, as the reference: Σ_g acc_g·scale_g, then / sx
      for (let g = 0; g < groups; g++) v += acc[g]! * scale[r * groups + g]!;
      y[i * rows + r] = v / sx[i]!;
    }
  }
}

/** Σ_{k in [k0, k1)} T_k[packed[base + k]] (k0, k1 multiples of 32), four bytes per load when `words` views the codes. */
function rowSum(t: Int16Array, words: Uint32Array | null, packed: Uint8Array, base: number, k0: number, k1: number): number {
  let acc = 0;
  if (words === null) {
    for (let k = k0; k < k1; k++) acc += t[(k << 8) | packed[base + k]!]!;
    return acc;
  }
  for (let k = k0, wi = (base + k0) >> 2; k < k1; k += 4, wi++) {
    const w = words[wi]!; // little-endian: byte k in the low 8 bits
    acc += t[(k << 8) | (w & 255)]! + t[((k + 1) << 8) | ((w >>> 8) & 255)]! + t[((k + 2) << 8) | ((w >>> 16) & 255)]! + t[((k + 3) << 8) | (w >>> 24)]!;
  }
  return acc;
}

/** Σ_k a[ao + k]·b[bo + k] in the reference's order (floatMatmul: 4 interleaved partial sums, then the tail). */
function dot4(a: Float32Array, ao: number, b: Float32Array, bo: number, cols: number): number {
  const body = cols - (cols % 4);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0; // prettier-ignore
  for (let k = 0; k < body; k += 4) {
    s0 += a[ao + k]! * b[bo + k]!;
    s1 += a[ao + k + 1]! * b[bo + k + 1]!;
    s2 += a[ao + k + 2]! * b[bo + k + 2]!;
    s3 += a[ao + k + 3]! * b[bo + k + 3]!;
  }
  let s = s0 + s1 + (s2 + s3);
  for (let k = body; k < cols; k++) s += a[ao + k]! * b[bo + k]!;
  return s;
}

/**
 * dot4 with fp16 weights read through the table. A second body rather than dot4 on a converted row:
 * converting first made generation at 125m shape 40% slower (measured), and a per-element branch or
 * closure would cost as much.
 */
function dotF16(a: Float32Array, ao: number, w: Uint16Array, wo: number, cols: number, t: Float32Array): number {
  const body = cols - (cols % 4);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0; // prettier-ignore
  for (let k = 0; k < body; k += 4) {
    s0 += a[ao + k]! * t[w[wo + k]!]!;
    s1 += a[ao + k + 1]! * t[w[wo + k + 1]!]!;
    s2 += a[ao + k + 2]! * t[w[wo + k + 2]!]!;
    s3 += a[ao + k + 3]! * t[w[wo + k + 3]!]!;
  }
  let s = s0 + s1 + (s2 + s3);
  for (let k = body; k < cols; k++) s += a[ao + k]! * t[w[wo + k]!]!;
  return s;
}

export const fastTsKernels: Pick<EngineKernels, 'ternaryMatmulScaled' | 'matmulF16' | 'matmulF32'> = {
  ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y) {
    const groups = checkTernaryScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y);
    if (groupSize % BLOCK_COLS !== 0 && groupSize % 32 === 0) return scaledFields(packed, rows, cols, xq, sx, n, scale, groupSize, y);
    if (rows < MIN_ROWS || groupSize % BLOCK_COLS !== 0) return referenceKernels.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y);
    const rowBytes = packedRowBytes(cols);
    if (table.length < rowBytes * 256) table = new Int16Array(rowBytes * 256);
    const t = table;
    const groupBytes = groupSize > 0 ? (groupSize / BLOCK_COLS) * BLOCK_BYTES : rowBytes;
    const perRow = scale.length === rows && groups === 0;
    // four codes bytes per load when the codes start on a 4-byte boundary (rows are whole 32-byte blocks)
    const words = packed.byteOffset % 4 === 0 ? new Uint32Array(packed.buffer, packed.byteOffset, packed.length >> 2) : null;
    for (let i = 0; i < n; i++) {
      buildTables(xq, i * cols, cols, rowBytes);
      const s = sx[i]!;
      for (let r = 0; r < rows; r++) {
        const base = r * rowBytes;
        let v: number;
        if (groups > 0) {
          v = 0; // double, as the reference: Σ_g acc_g·scale_g, then / sx
          for (let g = 0; g < groups; g++) {
            const k0 = g * groupBytes;
            v += rowSum(t, words, packed, base, k0, Math.min(rowBytes, k0 + groupBytes)) * scale[r * groups + g]!;
          }
        } else {
          v = rowSum(t, words, packed, base, 0, rowBytes) * scale[perRow ? r : 0]!;
        }
        y[i * rows + r] = v / s;
      }
    }
  },

  matmulF16(x, n, cols, w, rows, y) {
    checkFloatMatmul('matmulF16', x, n, cols, w, Uint16Array, rows, y);
    const t = f16Table();
    for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) y[i * rows + r] = dotF16(x, i * cols, w, r * cols, cols, t);
  },

  matmulF32(x, n, cols, w, rows, y) {
    checkFloatMatmul('matmulF32', x, n, cols, w, Float32Array, rows, y);
    for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) y[i * rows + r] = dot4(x, i * cols, w, r * cols, cols);
  },
};
