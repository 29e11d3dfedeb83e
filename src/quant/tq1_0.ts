/**
 * GGUF TQ1_0 (ggml type 34), bit-exact with llama.cpp's quantize_row_tq1_0_ref / dequantize_row_tq1_0.
 *
 * Block of 256 weights, 54 bytes (1.6875 bits per weight), trits c = t + 1 ∈ {0, 1, 2}:
 *   qs[0..31]   byte m packs elements m, m+32, m+64, m+96, m+128           (5 trits, elements 0..159)
 *   qs[32..47]  byte 32+m packs elements 160+m, +16, +32, +48, +64          (5 trits, elements 160..239)
 *   qh[0..3]    byte 48+j packs elements 240+j, +4, +8, +12                  (4 trits, elements 240..255)
 *   d           fp16 scale, little-endian, at byte 52
 * A byte's trits form a base-3 number q by Horner, the first element the most significant trit; qh's
 * q is multiplied by 3 so that its four trits sit in the top positions like the others'. The byte
 * stored is ceil(q · 256 / 243): q / 243 as a fixed-point fraction of 256, so that trit n (0 = most
 * significant) comes back with a multiply and a shift, no division:
 *   trit n = ((byte · 3^n mod 256) · 3) >> 8
 * (multiplying by 3^n moves trit n to the front, the mod 256 drops the trits before it, and · 3 >> 8
 * takes the integer part of 3 · fraction.) Value = (c − 1) · d.
 */
import { checkPackedLength, checkTernaryInput, QK_K, readScale, writeScale } from './blocks.ts';

export const TQ1_0_BLOCK_BYTES = 54;

/** The three byte runs of a block: `count` bytes from `byte`, byte i holding elements first + i + stride·n. */
const RUNS = [
  { byte: 0, count: 32, first: 0, stride: 32, trits: 5 },
  { byte: 32, count: 16, first: 160, stride: 16, trits: 5 },
  { byte: 48, count: 4, first: 240, stride: 4, trits: 4 },
] as const;

const POW3 = [1, 3, 9, 27, 81, 243] as const;

/** Packs ternary codes (a multiple of 256, row-major) with one scale d per block. */
export function packTQ1_0(codes: Int8Array, d: Float32Array): Uint8Array {
  const nBlocks = checkTernaryInput(codes, d, 'packTQ1_0');
  const out = new Uint8Array(nBlocks * TQ1_0_BLOCK_BYTES);
  for (let b = 0; b < nBlocks; b++) {
    const x = b * QK_K;
    const o = b * TQ1_0_BLOCK_BYTES;
    for (const run of RUNS)
      for (let i = 0; i < run.count; i++) {
        let q = 0;
        for (let n = 0; n < run.trits; n++) q = q * 3 + codes[x + run.first + i + run.stride * n]! + 1;
        q *= POW3[5 - run.trits]!;
        out[o + run.byte + i] = Math.floor((q * 256 + 242) / 243); // ceil(q·256/243) ≤ 255 for q ≤ 242
      }
    writeScale(out, o + 52, d[b]!);
  }
  return out;
}

/** Trit n (0 = most significant) of a stored byte, as in llama.cpp's dequantizer. */
export function tq1Trit(byte: number, n: number): number {
  return (((byte * POW3[n]!) & 0xff) * 3) >>> 8;
}

/**
 * Unpacks nBlocks blocks into codes (−1..1) and d (the float value of each stored fp16). Every byte
 * decodes to trits in 0..2, so there is nothing else to reject; a byte that is not ceil(q·256/243) for
 * any q (13 of the 256 values) decodes like the canonical byte below it, as in llama.cpp.
 */
export function unpackTQ1_0(bytes: Uint8Array, nBlocks: number): { codes: Int8Array; d: Float32Array } {
  checkPackedLength(bytes, nBlocks, TQ1_0_BLOCK_BYTES, 'unpackTQ1_0');
  const codes = new Int8Array(nBlocks * QK_K);
  const d = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    const x = b * QK_K;
    const o = b * TQ1_0_BLOCK_BYTES;
    for (const run of RUNS)
      for (let i = 0; i < run.count; i++) {
        const byte = bytes[o + run.byte + i]!;
        for (let n = 0; n < run.trits; n++) codes[x + run.first + i + run.stride * n] = tq1Trit(byte, n) - 1;
      }
    d[b] = readScale(bytes, o + 52);
  }
  return { codes, d };
}
