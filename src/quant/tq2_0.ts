/**
 * GGUF TQ2_0 (ggml type 35), bit-exact with llama.cpp's quantize_row_tq2_0_ref / dequantize_row_tq2_0.
 *
 * Block of 256 weights, 66 bytes (2.0625 bits per weight):
 *   qs[64]  2-bit codes c = t + 1 ∈ {0, 1, 2} for t ∈ {−1, 0, 1}
 *   d       fp16 scale, little-endian, at byte 64
 * The block is two halves of 128 weights; byte 32h + m (h ∈ {0, 1}, m = 0..31) holds elements
 *   128h + m      in bits 1–0
 *   128h + m + 32 in bits 3–2
 *   128h + m + 64 in bits 5–4
 *   128h + m + 96 in bits 7–6   (LSB first: the opposite bit order to bitnet.cpp's I2_S)
 * Value = (c − 1) · d. Code 3 is unused and rejected on reading.
 */
import { checkPackedLength, checkTernaryInput, QK_K, readScale, writeScale } from './blocks.ts';

export const TQ2_0_BLOCK_BYTES = 66;

/** Packs ternary codes (a multiple of 256, row-major) with one scale d per block. */
export function packTQ2_0(codes: Int8Array, d: Float32Array): Uint8Array {
  const nBlocks = checkTernaryInput(codes, d, 'packTQ2_0');
  const out = new Uint8Array(nBlocks * TQ2_0_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const x = b * QK_K;
    const o = b * TQ2_0_BLOCK_BYTES;
    for (let h = 0; h < 2; h++)
      for (let m = 0; m < 32; m++) {
        let byte = 0;
        for (let k = 0; k < 4; k++) byte |= (codes[x + 128 * h + m + 32 * k]! + 1) << (2 * k);
        out[o + 32 * h + m] = byte;
      }
    writeScale(out, o + 64, d[b]!);
  }
  return out;
}

/** Unpacks nBlocks blocks into codes (−1..1) and d (the float value of each stored fp16). */
export function unpackTQ2_0(bytes: Uint8Array, nBlocks: number): { codes: Int8Array; d: Float32Array } {
  checkPackedLength(bytes, nBlocks, TQ2_0_BLOCK_BYTES, 'unpackTQ2_0');
  const codes = new Int8Array(nBlocks * QK_K);
  const d = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    const x = b * QK_K;
    const o = b * TQ2_0_BLOCK_BYTES;
    for (let h = 0; h < 2; h++)
      for (let m = 0; m < 32; m++) {
        const byte = bytes[o + 32 * h + m]!;
        for (let k = 0; k < 4; k++) {
          const c = (byte >>> (2 * k)) & 3;
          if (c === 3) throw new RangeError(`unpackTQ2_0: block ${b} byte ${32 * h + m} holds the unused 2-bit code 3`);
          codes[x + 128 * h + m + 32 * k] = c - 1;
        }
      }
    d[b] = readScale(bytes, o + 64);
  }
  return { codes, d };
}
