/**
 * What the decoders of GGUF's non-ternary block types share (q8_0.ts, q4_0.ts, q4_k.ts, q6_k.ts,
 * bf16.ts, i2_s.ts; registry in ggml_codecs.ts): the check at their boundary, so every decoder
 * rejects a bad call the same way, and the integer form of a block that the engine's quantized
 * matmul (EngineKernels.matmulQuant) is defined on.
 */

/**
 * One block in integer form: element e's value is d·codes[e] − dmin·mins[e >> 5], where codes[e] is
 * the element's whole integer multiplier (sub-block scale included) and mins[j] the integer min of
 * the 32-element sub-block j. Only Q4_K has mins; the other types leave dmin = 0 and mins at 0.
 */
export interface IntBlock {
  d: number;
  dmin: number;
  /** One per element of the block (blockSize). */
  readonly codes: Int32Array;
  /** One per 32 elements of the block. */
  readonly mins: Int32Array;
}

/** An IntBlock with room for blocks of `blockSize` elements. */
export function newIntBlock(blockSize: number): IntBlock {
  return { d: 0, dmin: 0, codes: new Int32Array(blockSize), mins: new Int32Array(Math.max(1, blockSize >> 5)) };
}

/**
 * Checks a decoder call: n a non-negative multiple of blockSize, `bytes` exactly `byteLength` bytes
 * and `out` exactly n floats. Returns the block count.
 */
export function checkRow(fn: string, bytes: Uint8Array, n: number, blockSize: number, byteLength: number, out: Float32Array): number {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  if (!(out instanceof Float32Array)) throw new TypeError(`${fn}: out must be a Float32Array`);
  checkCount(fn, n, blockSize);
  if (bytes.length !== byteLength) throw new RangeError(`${fn}: ${n} elements take ${byteLength} bytes, got ${bytes.length}`);
  if (out.length !== n) throw new RangeError(`${fn}: out has length ${out.length}, expected n = ${n}`);
  return n / blockSize;
}

/** Checks that n is a non-negative integer multiple of blockSize. */
export function checkCount(fn: string, n: number, blockSize: number): void {
  if (!Number.isSafeInteger(n) || n < 0 || n % blockSize !== 0)
    throw new RangeError(`${fn}: n must be a non-negative multiple of the block size ${blockSize}, got ${n}`);
}

/** Checks a quantizer's input: a whole number of blocks of finite floats. Returns the block count. */
export function checkQuantizeInput(fn: string, x: Float32Array, blockSize: number): number {
  if (!(x instanceof Float32Array)) throw new TypeError(`${fn}: x must be a Float32Array`);
  checkCount(fn, x.length, blockSize);
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new RangeError(`${fn}: x[${i}] = ${x[i]} is not finite`);
  return x.length / blockSize;
}

/** The little-endian u16 at `o` (an fp16 or bf16 bit pattern). */
export function u16At(bytes: Uint8Array, o: number): number {
  return bytes[o]! | (bytes[o + 1]! << 8);
}

/** C's roundf: to nearest, halves away from zero (llama.cpp's quantize_row_q8_0_ref uses it). */
export function roundHalfAway(v: number): number {
  const r = Math.floor(Math.abs(v) + 0.5); // exact: |v| is a float32, |v| + 0.5 needs no rounding in double
  return v < 0 ? -r : r;
}
