/**
 * GGUF Q6_K (ggml type 14), bit-exact with llama.cpp's ggml/src/ggml-quants.c dequantize_row_q6_K
 * (block_q6_K in ggml-common.h, QK_K = 256). What llama-quantize writes for the tied embedding of a
 * TQ1_0/TQ2_0 model, and bitnet.cpp's recommended embedding type (--quant-embd). The quantizer is
 * llama.cpp's quantize_row_q6_K_ref (its scale search in make_qx_quants.ts), bit for bit.
 *
 * Super-block of 256 weights in 16 sub-blocks of 16, 210 bytes (6.5625 bits per weight):
 *   bytes 0–127    ql[128]     low 4 bits of the codes
 *   bytes 128–191  qh[64]      high 2 bits of the codes
 *   bytes 192–207  scales[16]  int8 scale of each 16-element sub-block (element e uses scales[⌊e/16⌋])
 *   bytes 208–209  d           fp16 super-scale, little-endian
 * Element e = 128h + 32k + l (half h = 0..1, quarter k = 0..3, l = 0..31) has the 6-bit code
 *   Q = low | high << 4,  low  = ql[64h + 32·(k & 1) + l] >> 4·(k >> 1) & 15   (k = 0, 1: low nibbles
 *                                                                             of the two 32-byte runs,
 *                                                                             k = 2, 3: high nibbles)
 *                         high = qh[32h + l] >> 2k & 3
 * and q = Q − 32 ∈ [−32, 31]. Value = (d·scales)·q: exact in float32 (|scales·q| ≤ 4096 and d has 11
 * significant bits).
 */
import { f16BitsToF32, f32ToF16Bits } from './fp16.ts';
import { checkQuantizeInput, checkRow, type IntBlock, u16At } from './ggml_block.ts';
import { makeQxQuants, nearestInt } from './make_qx_quants.ts';
import { QK_K } from './blocks.ts';

export const Q6_K_BLOCK = QK_K;
export const Q6_K_BLOCK_BYTES = 210;

/** The signed code q ∈ [−32, 31] of element e (0..255) of the super-block at byte `o`. */
export function q6_KCode(bytes: Uint8Array, o: number, e: number): number {
  const h = e >> 7;
  const k = (e >> 5) & 3;
  const l = e & 31;
  const low = (bytes[o + 64 * h + 32 * (k & 1) + l]! >> (4 * (k >> 1))) & 15;
  const high = (bytes[o + 128 + 32 * h + l]! >> (2 * k)) & 3;
  return (low | (high << 4)) - 32;
}

/** The int8 scale of sub-block s (0..15). */
function scale(bytes: Uint8Array, o: number, s: number): number {
  return (bytes[o + 192 + s]! << 24) >> 24;
}

/** Decodes n weights (a multiple of 256) from n/256 super-blocks. */
export function dequantizeRowQ6_K(bytes: Uint8Array, n: number, out: Float32Array): void {
  const nb = checkRow('dequantizeRowQ6_K', bytes, n, QK_K, (n / QK_K) * Q6_K_BLOCK_BYTES, out);
  for (let b = 0; b < nb; b++) {
    const o = b * Q6_K_BLOCK_BYTES;
    const d = f16BitsToF32(u16At(bytes, o + 208));
    for (let s = 0; s < 16; s++) {
      const ds = d * scale(bytes, o, s);
      for (let t = 0; t < 16; t++) out[b * QK_K + 16 * s + t] = ds * q6_KCode(bytes, o, 16 * s + t);
    }
  }
}

/** The super-block at byte `o` in integer form: codes[e] = scales[⌊e/16⌋]·q(e). */
export function unpackQ6_K(bytes: Uint8Array, o: number, blk: IntBlock): void {
  blk.d = f16BitsToF32(u16At(bytes, o + 208));
  for (let e = 0; e < QK_K; e++) blk.codes[e] = scale(bytes, o, e >> 4) * q6_KCode(bytes, o, e);
}

const f = Math.fround;

/**
 * llama.cpp's quantize_row_q6_K_ref, per super-block of 256 (float32 throughout, as the C code):
 *  1. each 16-element sub-block j gets a float scale s_j = makeQxQuants(16, 32) and codes L (0..63);
 *  2. m = the s_j of largest magnitude (the first on a tie); if |m| < 1e-15 the block is all zero bytes;
 *  3. iscale = −128/m, d = fp16(1/iscale), scales[j] = min(127, nearest_int(iscale·s_j)) (int8);
 *  4. per sub-block with dj = fp16→f32(d)·scales[j] ≠ 0: L = clamp(nearest_int(x/dj), −32, 31) + 32;
 *     a sub-block whose dj is 0 keeps step 1's codes (they then decode to ±0);
 *  5. L packed as the layout above (ql low nibbles, qh high 2 bits).
 * x: finite, a multiple of 256.
 */
export function quantizeRowQ6_K(x: Float32Array): Uint8Array {
  const nb = checkQuantizeInput('quantizeRowQ6_K', x, QK_K);
  const out = new Uint8Array(nb * Q6_K_BLOCK_BYTES);
  const L = new Int8Array(QK_K);
  const s = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const x0 = b * QK_K;
    const o = b * Q6_K_BLOCK_BYTES;
    let maxScale = 0;
    let maxAbs = 0;
    for (let j = 0; j < 16; j++) {
      s[j] = makeQxQuants(16, 32, x, x0 + 16 * j, L, 16 * j);
      if (Math.abs(s[j]!) > maxAbs) {
        maxAbs = Math.abs(s[j]!);
        maxScale = s[j]!;
      }
    }
    if (maxAbs < f(1e-15)) continue; // all zero bytes: d = 0
    const iscale = f(-128 / maxScale);
    const h = f32ToF16Bits(f(1 / iscale));
    out[o + 208] = h & 0xff;
    out[o + 209] = h >>> 8;
    const d = f16BitsToF32(h);
    for (let j = 0; j < 16; j++) {
      const sc = Math.min(127, nearestInt(f(iscale * s[j]!)));
      out[o + 192 + j] = sc & 0xff;
      const dj = f(d * sc);
      if (dj === 0) continue;
      for (let i = 16 * j; i < 16 * j + 16; i++) L[i] = Math.max(-32, Math.min(31, nearestInt(f(x[x0 + i]! / dj)))) + 32;
    }
    // element e = 128h + 32k + l: low nibble in ql[64h + 32(k & 1) + l] at bit 4(k >> 1), high bits in qh[32h + l] at bit 2k
    for (let e = 0; e < QK_K; e++) {
      const hh = e >> 7;
      const k = (e >> 5) & 3;
      const l = e & 31;
      out[o + 64 * hh + 32 * (k & 1) + l] |= (L[e]! & 15) << (4 * (k >> 1));
      out[o + 128 + 32 * hh + l] |= (L[e]! >> 4) << (2 * k);
    }
  }
  return out;
}
