/**
 * GGUF Q4_0 (ggml type 2), bit-exact with llama.cpp's ggml/src/ggml-quants.c quantize_row_q4_0_ref /
 * dequantize_row_q4_0 (block_q4_0 in ggml-common.h, QK4_0 = 32). The fallback llama-quantize uses
 * for rows that TQ1_0/TQ2_0 cannot hold, and a common embedding type.
 *
 * Block of 32 weights, 18 bytes (4.5 bits per weight):
 *   bytes 0–1    d       fp16 scale, little-endian
 *   bytes 2–17   qs[16]  byte 2 + j holds element j in its low nibble and element j + 16 in its high
 *                        nibble (the two halves of the block, not neighbours)
 * Value = (nibble − 8)·d, nibble − 8 ∈ [−8, 7] (exact in float32).
 */
import { f16BitsToF32, f32ToF16Bits } from './fp16.ts';
import { checkQuantizeInput, checkRow, type IntBlock, u16At } from './ggml_block.ts';

export const Q4_0_BLOCK = 32;
export const Q4_0_BLOCK_BYTES = 18;

/** Decodes n weights (a multiple of 32) from n/32 blocks. */
export function dequantizeRowQ4_0(bytes: Uint8Array, n: number, out: Float32Array): void {
  const nb = checkRow('dequantizeRowQ4_0', bytes, n, Q4_0_BLOCK, (n / Q4_0_BLOCK) * Q4_0_BLOCK_BYTES, out);
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = f16BitsToF32(u16At(bytes, o));
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 2 + j]!;
      out[b * 32 + j] = ((q & 0xf) - 8) * d;
      out[b * 32 + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/** The block at byte `o` in integer form: codes[e] = nibble(e) − 8. */
export function unpackQ4_0(bytes: Uint8Array, o: number, blk: IntBlock): void {
  blk.d = f16BitsToF32(u16At(bytes, o));
  for (let j = 0; j < 16; j++) {
    const q = bytes[o + 2 + j]!;
    blk.codes[j] = (q & 0xf) - 8;
    blk.codes[j + 16] = (q >> 4) - 8;
  }
}

/**
 * llama.cpp's quantize_row_q4_0_ref: per block, max = the x of largest magnitude (the first one on a
 * tie), d = max/−8 and id = 1/d (0 when d is 0) in float32, nibble = min(15, trunc(x·id + 8.5)) with
 * float32 arithmetic, d stored as fp16. The most negative code is thus the block's extreme value.
 * x: finite, a multiple of 32.
 */
export function quantizeRowQ4_0(x: Float32Array): Uint8Array {
  const nb = checkQuantizeInput('quantizeRowQ4_0', x, Q4_0_BLOCK);
  const out = new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  const nibble = (v: number, id: number): number => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
  for (let b = 0; b < nb; b++) {
    const x0 = b * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++)
      if (amax < Math.abs(x[x0 + j]!)) {
        amax = Math.abs(x[x0 + j]!);
        max = x[x0 + j]!;
      }
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = b * Q4_0_BLOCK_BYTES;
    const h = f32ToF16Bits(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 16; j++) out[o + 2 + j] = nibble(x[x0 + j]!, id) | (nibble(x[x0 + 16 + j]!, id) << 4);
  }
  return out;
}
