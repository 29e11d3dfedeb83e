/**
 * What the ternary block packers share: the super-block size, the validation at their boundary and the
 * fp16 scale at the end of each block. One place, so TQ1_0 and TQ2_0 reject bad input the same way.
 */
import { f16BitsToF32, f32ToF16Bits } from './fp16.ts';

/** Weights per TQ1_0/TQ2_0 block (ggml's QK_K). */
export const QK_K = 256;

/** Checks codes (−1..1, a whole number of blocks) against one d per block, finite in fp16; returns the block count. */
export function checkTernaryInput(codes: Int8Array, d: Float32Array, fn: string): number {
  if (codes.length % QK_K !== 0) throw new RangeError(`${fn}: codes.length ${codes.length} is not a multiple of ${QK_K}`);
  const nBlocks = codes.length / QK_K;
  if (d.length !== nBlocks) throw new RangeError(`${fn}: ${nBlocks} blocks need ${nBlocks} scales d, got ${d.length}`);
  for (let b = 0; b < nBlocks; b++)
    if (!Number.isFinite(d[b]!) || (f32ToF16Bits(d[b]!) & 0x7c00) === 0x7c00)
      throw new RangeError(`${fn}: d[${b}] = ${d[b]} has no finite fp16 value (|d| must be below 65520)`);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c < -1 || c > 1) throw new RangeError(`${fn}: codes[${i}] = ${c} is outside −1..1`);
  }
  return nBlocks;
}

/** Checks that `bytes` holds exactly nBlocks blocks of blockBytes. */
export function checkPackedLength(bytes: Uint8Array, nBlocks: number, blockBytes: number, fn: string): void {
  if (!Number.isInteger(nBlocks) || nBlocks < 0) throw new RangeError(`${fn}: nBlocks must be a non-negative integer, got ${nBlocks}`);
  if (bytes.length !== nBlocks * blockBytes)
    throw new RangeError(`${fn}: ${nBlocks} blocks take ${nBlocks * blockBytes} bytes, got ${bytes.length}`);
}

/** Writes d as little-endian fp16 at `offset`. */
export function writeScale(out: Uint8Array, offset: number, d: number): void {
  const h = f32ToF16Bits(d);
  out[offset] = h & 0xff;
  out[offset + 1] = h >>> 8;
}

/** Reads the little-endian fp16 at `offset` as a number. */
export function readScale(bytes: Uint8Array, offset: number): number {
  return f16BitsToF32(bytes[offset]! | (bytes[offset + 1]! << 8));
}
