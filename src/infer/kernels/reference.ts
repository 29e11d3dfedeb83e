/**
 * The reference kernels: plain typed-array loops, slow and obvious on purpose (llm.c's "reference").
 * The native kernels (native/src/*.cc) are tested against these: integer results identical, float
 * rescales identical (both compute them in double in the same order), float matmuls within rounding.
 * They are also what the engine runs when the addon is missing. They check their arguments like the
 * addon does: a wrong array type is a TypeError, a wrong size or length a RangeError.
 */
import type { EngineKernels, QuantType, TernaryBlockType } from '../../native/engine-kernels.ts';
import { f16BitsToF32 } from '../../quant/fp16.ts';
import { quantizeActivations as quantizeRows } from '../../quant/activations.ts';
import { GGML_CODECS } from '../../quant/ggml_codecs.ts';
import { TERNARY_CODECS } from '../../quant/codecs.ts';
import { tq1Trit } from '../../quant/tq1_0.ts';
import { BLOCK_BYTES, BLOCK_COLS, packedRowBytes } from './layout.ts';
import { dequantRows, matmulQuant, quantRowBytes } from './quant.ts';

type ArrayCtor = Int8ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Float32ArrayConstructor;

/** Argument checks shared by the reference kernels, with the addon's error types and wording. */
export class ArgCheck {
  constructor(private readonly fn: string) {}

  dim(name: string, v: number): this {
    if (typeof v !== 'number') throw new TypeError(`${this.fn}: ${name} must be a number`);
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`${this.fn}: ${name} must be an integer in [0, 2^31), got ${v}`);
    return this;
  }

  number(name: string, v: number): this {
    if (typeof v !== 'number') throw new TypeError(`${this.fn}: ${name} must be a number`);
    return this;
  }

  bool(name: string, v: boolean): this {
    if (typeof v !== 'boolean') throw new TypeError(`${this.fn}: ${name} must be a boolean`);
    return this;
  }

  array(name: string, a: unknown, ctor: ArrayCtor, length?: number, formula?: string): this {
    if (!(a instanceof ctor)) throw new TypeError(`${this.fn}: ${name} must be a ${ctor.name}`);
    if (length !== undefined && a.length !== length)
      throw new RangeError(`${this.fn}: ${name} has length ${a.length}, expected ${formula ?? ''} = ${length}`);
    return this;
  }

  /** A batch of matrices of `size` elements at `stride` must fit in the array. */
  batch(name: string, a: Float32Array, batch: number, stride: number, size: number): this {
    const need = batch === 0 ? 0 : (batch - 1) * stride + size;
    if (a.length < need) throw new RangeError(`${this.fn}: ${name} has length ${a.length}, needs (batch-1)*stride + rows*cols = ${need}`);
    return this;
  }

  /** A quantized tensor type name, as QuantType. */
  quantType(name: string, v: unknown): this {
    if (typeof v !== 'string') throw new TypeError(`${this.fn}: ${name} must be a string`);
    if (!QUANT_TYPES.includes(v as QuantType)) throw new RangeError(`${this.fn}: ${name} must be one of ${QUANT_TYPES.join(', ')}, got '${v}'`);
    return this;
  }

  range(msg: string): never {
    throw new RangeError(`${this.fn}: ${msg}`);
  }
}

function checkTernary(fn: string, packed: Uint8Array, rows: number, cols: number, xq: Int8Array, n: number): ArgCheck {
  const c = new ArgCheck(fn).array('packed', packed, Uint8Array).dim('rows', rows).dim('cols', cols);
  // |sum| <= 128·cols must fit the int32 outputs exactly
  if (cols > 2 ** 24) c.range(`cols must be at most 2^24 (exact int32 sums), got ${cols}`);
  return c
    .array('xq', xq, Int8Array)
    .dim('n', n)
    .array('packed', packed, Uint8Array, rows * packedRowBytes(cols), 'rows*ceil(cols/128)*32')
    .array('xq', xq, Int8Array, n * cols, 'n*cols');
}

const QUANT_TYPES: readonly QuantType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'BF16'];

/**
 * The weight tensor of matmulQuant / dequantRows: a known type, [rows, cols] with cols whole blocks
 * of it (each row a run of blocks), and w exactly that many bytes.
 */
function checkQuantTensor(c: ArgCheck, type: QuantType, w: Uint8Array, rows: number, cols: number): ArgCheck {
  c.quantType('type', type).array('w', w, Uint8Array).dim('rows', rows).dim('cols', cols);
  const bs = GGML_CODECS[type].blockSize;
  if (cols % bs !== 0) c.range(`cols must be a multiple of the ${type} block size ${bs}, got ${cols}`);
  return c.array('w', w, Uint8Array, rows * quantRowBytes(type, cols), 'rows*cols/blockSize*blockBytes');
}

/** ternaryMatmulScaled's arguments checked as the addon does; returns the number of scale groups (0: one scale per tensor or per row). */
export function checkTernaryScaled(
  packed: Uint8Array, rows: number, cols: number, xq: Int8Array, sx: Float32Array, n: number, scale: Float32Array, groupSize: number, y: Float32Array,
): number {
  const c = checkTernary('ternaryMatmulScaled', packed, rows, cols, xq, n)
    .array('sx', sx, Float32Array, n, 'n')
    .array('scale', scale, Float32Array)
    .dim('groupSize', groupSize)
    .array('y', y, Float32Array, n * rows, 'n*rows');
  const groups = groupSize > 0 ? Math.ceil(cols / groupSize) : 0;
  if (groupSize > 0) c.array('scale', scale, Float32Array, rows * groups, 'rows*ceil(cols/groupSize)');
  else if (scale.length !== 1 && scale.length !== rows)
    c.range(`scale has length ${scale.length}, expected 1 (per tensor) or rows = ${rows} (per row) when groupSize is 0`);
  return groups;
}

/**
 * The codes t of one block (256 weights) into codes[0..255], column order: TQ1_0's trits (every byte
 * decodes), TQ2_0's 2-bit fields with the unused code 3 read as t = 2, as llama.cpp's dequantizer and
 * the native kernel read it (a mapped file is not scanned for it). Returns the block's d.
 */
function blockCodes(type: TernaryBlockType, w: Uint8Array, o: number, codes: Int8Array): number {
  if (type === 'TQ1_0') {
    for (let m = 0; m < 32; m++) for (let n = 0; n < 5; n++) codes[m + 32 * n] = tq1Trit(w[o + m]!, n) - 1;
    for (let m = 0; m < 16; m++) for (let n = 0; n < 5; n++) codes[160 + m + 16 * n] = tq1Trit(w[o + 32 + m]!, n) - 1;
    for (let j = 0; j < 4; j++) for (let n = 0; n < 4; n++) codes[240 + j + 4 * n] = tq1Trit(w[o + 48 + j]!, n) - 1;
  } else {
    for (let h = 0; h < 2; h++)
      for (let m = 0; m < 32; m++) for (let q = 0; q < 4; q++) codes[128 * h + 32 * q + m] = ((w[o + 32 * h + m]! >> (2 * q)) & 3) - 1;
  }
  const bb = TERNARY_CODECS[type].blockBytes;
  return f16BitsToF32(w[o + bb - 2]! | (w[o + bb - 1]! << 8));
}

/** The ternary code t of (row r, column col) in the packed layout. */
function codeAt(packed: Uint8Array, rowBase: number, col: number): number {
  const byte = packed[rowBase + Math.floor(col / BLOCK_COLS) * BLOCK_BYTES + (col % 32)]!;
  return ((byte >> (2 * Math.floor((col % BLOCK_COLS) / 32))) & 3) - 1;
}

/** Σ_{k in [c0, c1)} xq[i, k]·t[r, k], exact. */
function dotRange(packed: Uint8Array, rowBase: number, xq: Int8Array, xBase: number, c0: number, c1: number): number {
  let acc = 0;
  for (let k = c0; k < c1; k++) acc += xq[xBase + k]! * codeAt(packed, rowBase, k);
  return acc;
}

export const referenceKernels: EngineKernels = {
  ternaryMatmulBlocks(type, w, rows, cols, xq, sx, n, y) {
    const c = new ArgCheck('ternaryMatmulBlocks');
    if (type !== 'TQ1_0' && type !== 'TQ2_0') c.range(`type must be one of TQ1_0, TQ2_0, got '${String(type)}'`);
    c.array('w', w, Uint8Array).dim('rows', rows).dim('cols', cols);
    if (cols % 256 !== 0) c.range(`cols must be a multiple of 256 (whole blocks per row), got ${cols}`);
    const nb = cols / 256;
    const bb = TERNARY_CODECS[type].blockBytes;
    c.array('w', w, Uint8Array, rows * nb * bb, 'rows*cols/256*blockBytes').array('xq', xq, Int8Array, n * cols, 'n*cols')
      .array('sx', sx, Float32Array, n, 'n').dim('n', n).array('y', y, Float32Array, n * rows, 'n*rows');
    const codes = new Int8Array(256);
    const v = new Float64Array(n);
    for (let r = 0; r < rows; r++) {
      v.fill(0);
      for (let b = 0; b < nb; b++) {
        const d = blockCodes(type, w, (r * nb + b) * bb, codes);
        for (let i = 0; i < n; i++) {
          let acc = 0;
          const x0 = i * cols + b * 256;
          for (let e = 0; e < 256; e++) acc += codes[e]! * xq[x0 + e]!;
          v[i] += acc * d; // double, in block order
        }
      }
      for (let i = 0; i < n; i++) y[i * rows + r] = v[i]! / sx[i]!;
    }
  },

  ternaryMatmul(packed, rows, cols, xq, n, out) {
    checkTernary('ternaryMatmul', packed, rows, cols, xq, n).array('out', out, Int32Array, n * rows, 'n*rows');
    const rowBytes = packedRowBytes(cols);
    for (let i = 0; i < n; i++)
      for (let r = 0; r < rows; r++) out[i * rows + r] = dotRange(packed, r * rowBytes, xq, i * cols, 0, cols);
  },

  ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y) {
    const groups = checkTernaryScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y);
    const rowBytes = packedRowBytes(cols);
    for (let i = 0; i < n; i++)
      for (let r = 0; r < rows; r++) {
        let v: number; // double, as the native kernel: Σ_g acc_g·scale_g, then / sx
        if (groupSize > 0) {
          v = 0;
          for (let g = 0; g < groups; g++) {
            const acc = dotRange(packed, r * rowBytes, xq, i * cols, g * groupSize, Math.min(cols, (g + 1) * groupSize));
            v += acc * scale[r * groups + g]!;
          }
        } else {
          v = dotRange(packed, r * rowBytes, xq, i * cols, 0, cols) * scale[scale.length === 1 ? 0 : r]!;
        }
        y[i * rows + r] = v / sx[i]!;
      }
  },

  quantizeActivations(x, n, cols, xq, sx) {
    new ArgCheck('quantizeActivations')
      .array('x', x, Float32Array)
      .dim('n', n)
      .dim('cols', cols)
      .array('x', x, Float32Array, n * cols, 'n*cols')
      .array('xq', xq, Int8Array, n * cols, 'n*cols')
      .array('sx', sx, Float32Array, n, 'n');
    if (n === 0 || cols === 0) {
      sx.fill(127 / Math.fround(1e-5)); // max|x| of an empty row is 0: s = 127/ε, as the addon
      return;
    }
    const { q, scales } = quantizeRows(x, cols, 8); // src/quant: the one definition of the formula
    xq.set(q);
    sx.set(scales);
  },

  matmulF32(x, n, cols, w, rows, y) {
    checkFloatMatmul('matmulF32', x, n, cols, w, Float32Array, rows, y);
    floatMatmul(x, n, cols, (k) => w[k]!, rows, y);
  },

  matmulF16(x, n, cols, w, rows, y) {
    checkFloatMatmul('matmulF16', x, n, cols, w, Uint16Array, rows, y);
    floatMatmul(x, n, cols, (k) => f16BitsToF32(w[k]!), rows, y);
  },

  matmulQuant(type, x, n, cols, w, rows, y) {
    const c = checkQuantTensor(new ArgCheck('matmulQuant').array('x', x, Float32Array).dim('n', n).array('y', y, Float32Array), type, w, rows, cols);
    c.array('x', x, Float32Array, n * cols, 'n*cols').array('y', y, Float32Array, n * rows, 'n*rows');
    matmulQuant(type, x, n, cols, w, rows, y);
  },

  dequantRows(type, w, rows, cols, ids, out) {
    const c = checkQuantTensor(new ArgCheck('dequantRows').array('ids', ids, Int32Array).array('out', out, Float32Array), type, w, rows, cols);
    c.array('out', out, Float32Array, ids.length * cols, 'ids.length*cols');
    for (let i = 0; i < ids.length; i++)
      if (ids[i]! < 0 || ids[i]! >= rows) c.range(`ids[${i}] = ${ids[i]} is outside [0, rows)`);
    dequantRows(type, w, cols, ids, out);
  },

  attention(q, n, pos0, kCache, vCache, heads, kvHeads, headDim, maxSeq, out) {
    const c = new ArgCheck('attention')
      .array('q', q, Float32Array)
      .dim('n', n)
      .dim('pos0', pos0)
      .array('kCache', kCache, Float32Array)
      .array('vCache', vCache, Float32Array)
      .dim('heads', heads)
      .dim('kvHeads', kvHeads)
      .dim('headDim', headDim)
      .dim('maxSeq', maxSeq)
      .array('out', out, Float32Array);
    if (kvHeads === 0 || heads % kvHeads !== 0) c.range(`heads must be a multiple of kvHeads >= 1, got ${heads} and ${kvHeads}`);
    if (pos0 + n > maxSeq) c.range(`pos0 + n must be at most maxSeq, got ${pos0 + n} > ${maxSeq}`);
    c.array('q', q, Float32Array, n * heads * headDim, 'n*heads*headDim')
      .array('kCache', kCache, Float32Array, kvHeads * kvTiledLength(maxSeq) * headDim, 'kvHeads*ceil(maxSeq/32)*32*headDim')
      .array('vCache', vCache, Float32Array, kvHeads * maxSeq * headDim, 'kvHeads*maxSeq*headDim')
      .array('out', out, Float32Array, n * heads * headDim, 'n*heads*headDim');
    attend(q, n, pos0, kCache, vCache, heads, kvHeads, headDim, maxSeq, out);
  },

  glu(gate, up, silu) {
    new ArgCheck('glu').array('gate', gate, Float32Array).bool('silu', silu).array('up', up, Float32Array, gate.length, 'gate.length');
    if (silu) for (let i = 0; i < gate.length; i++) gate[i] = (gate[i]! / (1 + engineExp(-gate[i]!))) * up[i]!;
    else for (let i = 0; i < gate.length; i++) gate[i] = gate[i]! > 0 ? gate[i]! * gate[i]! * up[i]! : 0;
  },

  ropeStore(q, k, v, n, pos0, heads, kvHeads, headDim, cos, sin, kCache, vCache, maxSeq) {
    const c = new ArgCheck('ropeStore')
      .array('q', q, Float32Array)
      .array('k', k, Float32Array)
      .array('v', v, Float32Array)
      .dim('n', n)
      .dim('pos0', pos0)
      .dim('heads', heads)
      .dim('kvHeads', kvHeads)
      .dim('headDim', headDim)
      .array('cos', cos, Float32Array)
      .array('sin', sin, Float32Array)
      .array('kCache', kCache, Float32Array)
      .array('vCache', vCache, Float32Array)
      .dim('maxSeq', maxSeq);
    if (headDim % 2 !== 0) c.range(`headDim must be even, got ${headDim}`);
    if (pos0 + n > maxSeq) c.range(`pos0 + n must be at most maxSeq, got ${pos0 + n} > ${maxSeq}`);
    const half = headDim / 2;
    c.array('q', q, Float32Array, n * heads * headDim, 'n*heads*headDim')
      .array('k', k, Float32Array, n * kvHeads * headDim, 'n*kvHeads*headDim')
      .array('v', v, Float32Array, n * kvHeads * headDim, 'n*kvHeads*headDim')
      .array('cos', cos, Float32Array, maxSeq * half, 'maxSeq*headDim/2')
      .array('sin', sin, Float32Array, maxSeq * half, 'maxSeq*headDim/2')
      .array('kCache', kCache, Float32Array, kvHeads * kvTiledLength(maxSeq) * headDim, 'kvHeads*ceil(maxSeq/32)*32*headDim')
      .array('vCache', vCache, Float32Array, kvHeads * maxSeq * headDim, 'kvHeads*maxSeq*headDim');
    ropeRows(q, n, heads, headDim, pos0, cos, sin);
    ropeRows(k, n, kvHeads, headDim, pos0, cos, sin);
    const kt = kvTiledLength(maxSeq);
    for (let i = 0; i < n; i++)
      for (let h = 0; h < kvHeads; h++) {
        const src = (i * kvHeads + h) * headDim;
        const t = pos0 + i;
        const kd = h * headDim * kt + Math.floor(t / KV_TILE) * headDim * KV_TILE + (t % KV_TILE);
        const vd = (h * maxSeq + t) * headDim;
        for (let j = 0; j < headDim; j++) {
          kCache[kd + j * KV_TILE] = k[src + j]!;
          vCache[vd + j] = v[src + j]!;
        }
      }
  },

  rmsNorm(x, w, n, cols, eps, out) {
    new ArgCheck('rmsNorm')
      .array('x', x, Float32Array)
      .array('w', w, Float32Array)
      .dim('n', n)
      .dim('cols', cols)
      .number('eps', eps)
      .array('out', out, Float32Array)
      .array('x', x, Float32Array, n * cols, 'n*cols')
      .array('w', w, Float32Array, cols, 'cols')
      .array('out', out, Float32Array, n * cols, 'n*cols');
    if (!(eps > 0 && Number.isFinite(eps))) throw new RangeError(`rmsNorm: eps must be a positive finite number, got ${eps}`);
    for (let i = 0; i < n; i++) {
      const o = i * cols;
      const body = cols - (cols % 8);
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0; // prettier-ignore
      for (let j = o; j < o + body; j += 8) {
        s0 += x[j]! * x[j]!;
        s1 += x[j + 1]! * x[j + 1]!;
        s2 += x[j + 2]! * x[j + 2]!;
        s3 += x[j + 3]! * x[j + 3]!;
        s4 += x[j + 4]! * x[j + 4]!;
        s5 += x[j + 5]! * x[j + 5]!;
        s6 += x[j + 6]! * x[j + 6]!;
        s7 += x[j + 7]! * x[j + 7]!;
      }
      let ss = s0 + s1 + (s2 + s3) + (s4 + s5 + (s6 + s7));
      for (let j = o + body; j < o + cols; j++) ss += x[j]! * x[j]!;
      const r = 1 / Math.sqrt(ss / cols + eps);
      for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! * r * w[j]!;
    }
  },

  f16ToF32(src, dst) {
    new ArgCheck('f16ToF32').array('src', src, Uint16Array).array('dst', dst, Float32Array, src.length, 'src.length');
    for (let i = 0; i < src.length; i++) dst[i] = f16BitsToF32(src[i]!);
  },

  sgemm(m, n, k, a, transA, b, transB, c) {
    new ArgCheck('sgemm')
      .dim('m', m)
      .dim('n', n)
      .dim('k', k)
      .bool('transA', transA)
      .bool('transB', transB)
      .array('a', a, Float32Array, m * k, 'm*k')
      .array('b', b, Float32Array, k * n, 'k*n')
      .array('c', c, Float32Array, m * n, 'm*n');
    gemm(m, n, k, a, 0, transA, b, 0, transB, c, 0);
  },

  sgemmBatched(batch, m, n, k, a, strideA, transA, b, strideB, transB, c, strideC) {
    const chk = new ArgCheck('sgemmBatched')
      .dim('batch', batch)
      .dim('m', m)
      .dim('n', n)
      .dim('k', k)
      .dim('strideA', strideA)
      .dim('strideB', strideB)
      .dim('strideC', strideC)
      .bool('transA', transA)
      .bool('transB', transB)
      .array('a', a, Float32Array)
      .array('b', b, Float32Array)
      .array('c', c, Float32Array)
      .batch('a', a, batch, strideA, m * k)
      .batch('b', b, batch, strideB, k * n)
      .batch('c', c, batch, strideC, m * n);
    if (batch > 1 && strideC < m * n) chk.range(`strideC must be at least m*n (outputs must not overlap), got ${strideC}`);
    for (let i = 0; i < batch; i++) gemm(m, n, k, a, i * strideA, transA, b, i * strideB, transB, c, i * strideC);
  },
};

export function checkFloatMatmul(
  fn: string, x: Float32Array, n: number, cols: number, w: unknown, wCtor: ArrayCtor, rows: number, y: Float32Array,
): void {
  new ArgCheck(fn)
    .array('x', x, Float32Array)
    .dim('n', n)
    .dim('cols', cols)
    .array('w', w, wCtor)
    .dim('rows', rows)
    .array('x', x, Float32Array, n * cols, 'n*cols')
    .array('w', w, wCtor, rows * cols, 'rows*cols')
    .array('y', y, Float32Array, n * rows, 'n*rows');
}

/** y[i, r] = Σ_k x[i, k]·W(r·cols + k), accumulated in double. */
/**
 * y[i, r] = Σ_k x[i, k]·W[r, k] in double as 4 interleaved partial sums (k mod 4) combined
 * (s0 + s1) + (s2 + s3), then the tail k ≥ 4⌊cols/4⌋ in order: the order the TS engine's fast loop
 * (./fast-ts.ts) keeps, and four independent add chains.
 */
function floatMatmul(x: Float32Array, n: number, cols: number, wAt: (k: number) => number, rows: number, y: Float32Array): void {
  const body = cols - (cols % 4);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < rows; r++) {
      const s = [0, 0, 0, 0];
      for (let k = 0; k < body; k++) s[k % 4] += x[i * cols + k]! * wAt(r * cols + k);
      let sum = s[0]! + s[1]! + (s[2]! + s[3]!);
      for (let k = body; k < cols; k++) sum += x[i * cols + k]! * wAt(r * cols + k);
      y[i * rows + r] = sum;
    }
}

/** C = op(A)·op(B) at the given offsets, the naive triple loop in double. */
function gemm(
  m: number, n: number, k: number, a: Float32Array, oa: number, ta: boolean, b: Float32Array, ob: number, tb: boolean,
  c: Float32Array, oc: number,
): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[oa + (ta ? p * m + i : i * k + p)]! * b[ob + (tb ? j * k + p : p * n + j)]!;
      c[oc + i * n + j] = s;
    }
}

// Scratch of attend(), grown on demand and kept (the engine calls it once per layer per token).
/** 2^k for k = −1022..1023 at POW2[k + 1022], built by exact doubling and halving. */
const POW2 = (() => {
  const t = new Float64Array(2046);
  t[1022] = 1;
  for (let k = 1; k <= 1023; k++) t[1022 + k] = t[1021 + k]! * 2;
  for (let k = 1; k <= 1022; k++) t[1022 - k] = t[1023 - k]! / 2;
  return t;
})();
const LOG2E = 1.4426950408889634;
const LN2_HI = 6.93147180369123816490e-1; // 32 trailing zero bits: k·LN2_HI is exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10;
const EXP_MIN = -708.3; // below, e^x is subnormal or 0: returned as 0

/**
 * The engine's e^x (softmax and SiLU), defined by its operations so the native kernels
 * (native/src/engine_exp.h) compute the same double bit for bit, in SIMD lanes too: k = floor(x·log2 e + 1/2),
 * r = (x − k·ln2_hi) − k·ln2_lo, e^r by its Taylor polynomial of degree 12 in Horner form (each step a
 * multiply then an add, |r| ≤ 0.35: error about an ulp), times 2^k. x < −708.3 gives 0 (softmax
 * weights below 1e-307 are nothing), NaN stays NaN. Math.exp is not used: V8's and libm's differ in
 * the last bit now and then.
 */
export function engineExp(x: number): number {
  if (!(x >= EXP_MIN)) return x < EXP_MIN ? 0 : Number.NaN;
  if (x > 709) return Infinity;
  const k = Math.floor(x * LOG2E + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = 1 / 479001600;
  p = p * r + 1 / 39916800;
  p = p * r + 1 / 3628800;
  p = p * r + 1 / 362880;
  p = p * r + 1 / 40320;
  p = p * r + 1 / 5040;
  p = p * r + 1 / 720;
  p = p * r + 1 / 120;
  p = p * r + 1 / 24;
  p = p * r + 1 / 6;
  p = p * r + 1 / 2;
  p = p * r + 1;
  p = p * r + 1;
  return p * POW2[k + 1022]!;
}

/** Rotate-half RoPE in place on n rows of `heads` heads: x1·c − x2·s and x2·c + x1·s in double, stored as float. */
function ropeRows(a: Float32Array, n: number, heads: number, hd: number, pos0: number, cos: Float32Array, sin: Float32Array): void {
  const half = hd / 2;
  for (let i = 0; i < n; i++) {
    const tab = (pos0 + i) * half;
    for (let h = 0; h < heads; h++) {
      const o = (i * heads + h) * hd;
      for (let j = 0; j < half; j++) {
        const c = cos[tab + j]!;
        const s = sin[tab + j]!;
        const x1 = a[o + j]!;
        const x2 = a[o + half + j]!;
        a[o + j] = x1 * c - x2 * s;
        a[o + half + j] = x2 * c + x1 * s;
      }
    }
  }
}

/** Positions per tile of the K cache (see EngineKernels.attention). */
export const KV_TILE = 32;
/** Positions the K cache holds for maxSeq: maxSeq rounded up to whole tiles. */
export function kvTiledLength(maxSeq: number): number {
  return Math.ceil(maxSeq / KV_TILE) * KV_TILE;
}

let attScores = new Float64Array(0);
let attAcc = new Float64Array(0);

/** The attention of EngineKernels.attention, arguments already checked. */
function attend(
  q: Float32Array, n: number, pos0: number, kc: Float32Array, vc: Float32Array,
  heads: number, kvHeads: number, hd: number, maxSeq: number, out: Float32Array,
): void {
  if (attScores.length < pos0 + n) attScores = new Float64Array(pos0 + n);
  if (attAcc.length < hd) attAcc = new Float64Array(hd);
  const sc = attScores;
  const acc = attAcc;
  const group = heads / kvHeads;
  const d = heads * hd;
  const scale = 1 / Math.sqrt(hd);
  for (let i = 0; i < n; i++) {
    const last = pos0 + i; // attends to positions 0..last
    for (let h = 0; h < heads; h++) {
      const qo = i * d + h * hd;
      const base = Math.floor(h / group) * maxSeq * hd;
      let max = -Infinity;
      const kbase = Math.floor(h / group) * kvTiledLength(maxSeq) * hd;
      for (let t = 0; t <= last; t++) {
        const ko = kbase + Math.floor(t / KV_TILE) * hd * KV_TILE + (t % KV_TILE); // K: [kv head][tile][dim][32]
        let s = 0;
        for (let j = 0; j < hd; j++) s += q[qo + j]! * kc[ko + j * KV_TILE]!;
        s *= scale;
        sc[t] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t = 0; t <= last; t++) {
        const e = engineExp(sc[t]! - max);
        sc[t] = e;
        sum += e;
      }
      acc.fill(0, 0, hd);
      for (let t = 0; t <= last; t++) {
        const p = sc[t]! / sum;
        const vo = base + t * hd;
        for (let j = 0; j < hd; j++) acc[j] += p * vc[vo + j]!;
      }
      for (let j = 0; j < hd; j++) out[qo + j] = acc[j]!;
    }
  }
}
