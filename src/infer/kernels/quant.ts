/**
 * The TypeScript reference of the quantized head and embedding kernels, EngineKernels.matmulQuant and
 * dequantRows (their contract, which defines the result bit for bit, is in
 * src/native/engine-kernels.ts; the native bodies are native/src/quants.cc). Arguments arrive checked
 * (reference.ts checkQuant). Plain loops that follow the contract's wording step by step; the block
 * layouts come from src/quant (GGML_CODECS), never a second copy here.
 */
import type { QuantType } from '../../native/engine-kernels.ts';
import { quantizeActivations } from '../../quant/activations.ts';
import { newIntBlock } from '../../quant/ggml_block.ts';
import { GGML_CODECS } from '../../quant/ggml_codecs.ts';

const f = Math.fround;

/** ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)) in float32: the lane order every implementation sums in. */
function hsum8(v: Float32Array): number {
  return f(f(f(v[0]! + v[4]!) + f(v[2]! + v[6]!)) + f(f(v[1]! + v[5]!) + f(v[3]! + v[7]!)));
}

/** Bytes of one row of `cols` weights. */
export function quantRowBytes(type: QuantType, cols: number): number {
  const c = GGML_CODECS[type];
  return (cols / c.blockSize) * c.blockBytes;
}

/** BF16: 32 partial sums, combined lane-wise, then the 8-lane tree, then the tail (see the contract). */
function matmulBF16(x: Float32Array, n: number, cols: number, w: Uint8Array, rows: number, y: Float32Array): void {
  const wr = new Float32Array(cols);
  const s = new Float32Array(32);
  const t = new Float32Array(8);
  const body = cols - (cols % 32);
  for (let r = 0; r < rows; r++) {
    GGML_CODECS.BF16.dequantizeRow(w.subarray(2 * r * cols, 2 * (r + 1) * cols), cols, wr);
    for (let i = 0; i < n; i++) {
      const xo = i * cols;
      s.fill(0);
      for (let k = 0; k < body; k++) s[k & 31] += f(x[xo + k]! * wr[k]!); // a Float32Array store rounds the sum
      for (let j = 0; j < 8; j++) t[j] = f(s[j]! + s[16 + j]!) + f(s[8 + j]! + s[24 + j]!);
      let acc = hsum8(t);
      for (let k = body; k < cols; k++) acc = f(acc + f(x[xo + k]! * wr[k]!));
      y[i * rows + r] = acc;
    }
  }
}

/** The integer block types: x quantized per block-sized group, exact lane sums, float32 lanes (see the contract). */
function matmulInt(type: Exclude<QuantType, 'BF16'>, x: Float32Array, n: number, cols: number, w: Uint8Array, rows: number, y: Float32Array): void {
  const codec = GGML_CODECS[type];
  const bs = codec.blockSize; // also the activation group size G
  const nb = cols / bs;
  const rowBytes = nb * codec.blockBytes;
  const { q: xq, scales } = quantizeActivations(x, Math.max(bs, 1), 8);
  const dx = Float32Array.from(scales, (s) => 1 / s);
  // Σ xq per 32 columns (Q4_K's mins multiply these)
  const bsum = new Int32Array((n * cols) >> 5);
  for (let k = 0; k < n * cols; k++) bsum[k >> 5] += xq[k]!;
  const blk = newIntBlock(bs);
  const codes = new Int32Array(cols);
  const d = new Float64Array(nb);
  const dmin = new Float64Array(nb);
  const mins = new Int32Array(cols >> 5);
  const acc = new Float32Array(8);
  const lane = new Float64Array(8);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      codec.unpackBlock!(w, r * rowBytes + b * codec.blockBytes, blk);
      codes.set(blk.codes, b * bs);
      mins.set(blk.mins.subarray(0, bs >> 5), b * (bs >> 5));
      d[b] = blk.d;
      dmin[b] = blk.dmin;
    }
    for (let i = 0; i < n; i++) {
      acc.fill(0);
      let macc = 0;
      for (let b = 0; b < nb; b++) {
        lane.fill(0);
        const k0 = i * cols + b * bs;
        for (let e = 0; e < bs; e++) lane[(e & 31) >> 2] += codes[b * bs + e]! * xq[k0 + e]!; // exact integers
        const c = f(d[b]! * dx[i * nb + b]!);
        for (let u = 0; u < 8; u++) acc[u] += f(c * lane[u]!);
        if (type === 'Q4_K') {
          let m = 0;
          for (let j = 0; j < 8; j++) m += mins[b * 8 + j]! * bsum[(k0 >> 5) + j]!;
          macc = f(macc + f(f(dmin[b]! * dx[i * nb + b]!) * m));
        }
      }
      y[i * rows + r] = f(hsum8(acc) - macc);
    }
  }
}

/** EngineKernels.matmulQuant, arguments checked. */
export function matmulQuant(type: QuantType, x: Float32Array, n: number, cols: number, w: Uint8Array, rows: number, y: Float32Array): void {
  if (type === 'BF16') matmulBF16(x, n, cols, w, rows, y);
  else matmulInt(type, x, n, cols, w, rows, y);
}

/** EngineKernels.dequantRows, arguments checked (ids in range). */
export function dequantRows(type: QuantType, w: Uint8Array, cols: number, ids: Int32Array, out: Float32Array): void {
  const rowBytes = quantRowBytes(type, cols);
  const codec = GGML_CODECS[type];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    codec.dequantizeRow(w.subarray(id * rowBytes, (id + 1) * rowBytes), cols, out.subarray(i * cols, (i + 1) * cols));
  }
}
