/**
 * GGUF Q6_K (ggml type 14), bit-exact with llama.cpp's ggml/src/ggml-quants.c dequantize_row_q6_K
 * (block_q6_K in ggml-common.h, QK_K = 256). What llama-quantize writes for the tied embedding of a
 * TQ1_0/TQ2_0 model, and bitnet.cpp's recommended embedding type (--quant-embd). No quantizer here:
 * quantize_row_q6_K_ref searches scales (make_qx_quants); the tests build blocks byte by byte.
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
import { f16BitsToF32 } from './fp16.ts';
import { checkRow, type IntBlock, u16At } from './ggml_block.ts';
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
