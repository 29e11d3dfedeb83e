/**
 * GGUF Q4_K (ggml type 12), bit-exact with llama.cpp's ggml/src/ggml-quants.c dequantize_row_q4_K and
 * get_scale_min_k4 (block_q4_K in ggml-common.h: QK_K = 256, K_SCALE_SIZE = 12). The "Q4_K_M" files'
 * main type. No quantizer here: llama.cpp's quantize_row_q4_K_ref is an iterative search
 * (make_qkx2_quants); the tests build blocks byte by byte instead.
 *
 * Super-block of 256 weights in 8 sub-blocks of 32, 144 bytes (4.5 bits per weight):
 *   bytes 0–1     d           fp16 super-scale of the sub-block scales, little-endian
 *   bytes 2–3     dmin        fp16 super-scale of the sub-block mins
 *   bytes 4–15    scales[12]  eight 6-bit scales sc_j and eight 6-bit mins m_j (get_scale_min_k4):
 *                   j < 4:  sc_j = scales[j] & 63                m_j = scales[j + 4] & 63
 *                   j ≥ 4:  sc_j = (scales[j + 4] & 15) | (scales[j − 4] >> 6) << 4
 *                           m_j  = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
 *                 i.e. bytes 0–3 hold sc_0..3 in their low 6 bits, bytes 4–7 m_0..3; bytes 8–11 hold
 *                 the low nibbles of sc_4..7 (low half) and m_4..7 (high half), whose top 2 bits sit
 *                 in bits 7–6 of bytes 0–3 (sc) and 4–7 (m)
 *   bytes 16–143  qs[128]     4-bit codes q: byte 16 + 32c + l (c = 0..3, l = 0..31) holds element
 *                             64c + l (sub-block 2c) in its low nibble and 64c + 32 + l (sub-block
 *                             2c + 1) in its high nibble
 * Value(e) = (d·sc_j)·q − dmin·m_j with j = ⌊e/32⌋: both products exact in float32 (11 + 6 + 4 and
 * 11 + 6 significant bits), one rounding in the subtraction.
 */
import { f16BitsToF32 } from './fp16.ts';
import { checkRow, type IntBlock, u16At } from './ggml_block.ts';
import { QK_K } from './blocks.ts';

export const Q4_K_BLOCK = QK_K;
export const Q4_K_BLOCK_BYTES = 144;

/** get_scale_min_k4: the 6-bit scale (index 0) or min (index 1) of sub-block j from the 12 bytes at `s`. */
export function q4_KScaleMin(bytes: Uint8Array, s: number, j: number, which: 0 | 1): number {
  if (j < 4) return bytes[s + j + 4 * which]! & 63;
  const lo = which === 0 ? bytes[s + j + 4]! & 15 : bytes[s + j + 4]! >> 4;
  return lo | ((bytes[s + j - 4 * (1 - which)]! >> 6) << 4);
}

/** The 4-bit code of element e (0..255) of the super-block at byte `o`. */
function code(bytes: Uint8Array, o: number, e: number): number {
  const byte = bytes[o + 16 + 32 * (e >> 6) + (e & 31)]!;
  return e & 32 ? byte >> 4 : byte & 15;
}

/** Decodes n weights (a multiple of 256) from n/256 super-blocks. */
export function dequantizeRowQ4_K(bytes: Uint8Array, n: number, out: Float32Array): void {
  const nb = checkRow('dequantizeRowQ4_K', bytes, n, QK_K, (n / QK_K) * Q4_K_BLOCK_BYTES, out);
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_K_BLOCK_BYTES;
    const d = f16BitsToF32(u16At(bytes, o));
    const dmin = f16BitsToF32(u16At(bytes, o + 2));
    for (let j = 0; j < 8; j++) {
      const d1 = Math.fround(d * q4_KScaleMin(bytes, o + 4, j, 0));
      const m1 = Math.fround(dmin * q4_KScaleMin(bytes, o + 4, j, 1));
      for (let l = 0; l < 32; l++) out[b * QK_K + 32 * j + l] = d1 * code(bytes, o, 32 * j + l) - m1;
    }
  }
}

/** The super-block at byte `o` in integer form: codes[e] = sc_j·q(e), mins[j] = m_j. */
export function unpackQ4_K(bytes: Uint8Array, o: number, blk: IntBlock): void {
  blk.d = f16BitsToF32(u16At(bytes, o));
  blk.dmin = f16BitsToF32(u16At(bytes, o + 2));
  for (let j = 0; j < 8; j++) {
    const sc = q4_KScaleMin(bytes, o + 4, j, 0);
    blk.mins[j] = q4_KScaleMin(bytes, o + 4, j, 1);
    for (let l = 0; l < 32; l++) blk.codes[32 * j + l] = sc * code(bytes, o, 32 * j + l);
  }
}
