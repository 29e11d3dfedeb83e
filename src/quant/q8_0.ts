/**
 * GGUF Q8_0 (ggml type 8), bit-exact with llama.cpp's ggml/src/ggml-quants.c quantize_row_q8_0_ref /
 * dequantize_row_q8_0 (block_q8_0 in ggml-common.h, QK8_0 = 32). What `llama-quantize
 * --token-embedding-type q8_0` writes for embeddings and heads.
 *
 * Block of 32 weights, 34 bytes (8.5 bits per weight):
 *   bytes 0–1    d       fp16 scale, little-endian
 *   bytes 2–33   qs[32]  int8 codes, element j at byte 2 + j
 * Value_j = qs[j]·d (exact in float32: 8 × 11 significant bits).
 */
import { f16BitsToF32, f32ToF16Bits } from './fp16.ts';
import { checkQuantizeInput, checkRow, type IntBlock, roundHalfAway, u16At } from './ggml_block.ts';

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** Decodes n weights (a multiple of 32) from n/32 blocks. */
export function dequantizeRowQ8_0(bytes: Uint8Array, n: number, out: Float32Array): void {
  const nb = checkRow('dequantizeRowQ8_0', bytes, n, Q8_0_BLOCK, (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES, out);
  for (let b = 0; b < nb; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToF32(u16At(bytes, o));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = ((bytes[o + 2 + j]! << 24) >> 24) * d;
  }
}

/** The block at byte `o` in integer form: codes[j] = qs[j]. */
export function unpackQ8_0(bytes: Uint8Array, o: number, blk: IntBlock): void {
  blk.d = f16BitsToF32(u16At(bytes, o));
  for (let j = 0; j < 32; j++) blk.codes[j] = (bytes[o + 2 + j]! << 24) >> 24;
}

/**
 * llama.cpp's quantize_row_q8_0_ref: per block amax = max|x|, d = amax/127 and id = 1/d (0 when d is
 * 0) in float32, qs[j] = roundf(x[j]·id) (halves away from zero), d stored as fp16. Note that the
 * codes use the float32 d and only the stored scale is rounded to fp16. x: finite, a multiple of 32.
 */
export function quantizeRowQ8_0(x: Float32Array): Uint8Array {
  const nb = checkQuantizeInput('quantizeRowQ8_0', x, Q8_0_BLOCK);
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    const h = f32ToF16Bits(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) out[o + 2 + j] = roundHalfAway(Math.fround(x[b * 32 + j]! * id)) & 0xff;
  }
  return out;
}
