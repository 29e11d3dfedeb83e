/**
 * bitnet.cpp's I2_S ("int2 + scale", 2 bits per weight), the type of microsoft/BitNet's GGUF files
 * (bitnet-b1.58-2B-4T-gguf). Not a mainline ggml type: its id (36) exists only in bitnet.cpp's ggml
 * fork (3rdparty/llama.cpp: ggml/include/ggml.h `GGML_TYPE_I2_S = 36`). The layout, read in
 * microsoft/BitNet src/ggml-bitnet-mad.cpp quantize_i2_s (x86, ACT_PARALLEL: include/gemm-config.h
 * defines it, and it is the layout utils/convert-hf-to-gguf-bitnet.py quantize_to_i2_s writes):
 *
 *   - the whole tensor (n = rows·cols weights, row-major) is flattened and cut into blocks of 128
 *     consecutive weights, 32 bytes each, at byte 32g for block g;
 *   - byte m (0..31) of a block holds elements m, m + 32, m + 64, m + 96 of the block in bits 7–6,
 *     5–4, 3–2, 1–0 (most significant first: the opposite bit order to TQ2_0 and to the engine's
 *     packed layout, src/infer/kernels/layout.ts);
 *   - the 2-bit code c = t + 1: 0 → −1, 1 → 0, 2 → +1 (3 is never written and is rejected here);
 *   - ONE float32 scale per tensor, little-endian, at byte n/4 (right after the codes), then 28 bytes
 *     of padding (zeros from the Python converter; older converters repeated the scale there): the
 *     tensor's size is n/4 + 32 bytes (the fork's ggml.c ggml_nbytes: `nbytes / 4 + 32` for I2_S,
 *     whose type_traits say blck_size 1, type_size 1).
 * Value = (c − 1)·scale, exact. bitnet.cpp's matmul (ggml.c, ggml_compute_forward_mul_mat) reads
 * the scale at `src0->data + ne00·ne01/4` and row r's codes at byte r·ne00/4, so rows must be whole
 * blocks (cols a multiple of 128) for a row to be a run of blocks; its AVX2 GEMV
 * (ggml_vec_dot_i2_i8_s) needs that too.
 *
 * Not handled: the ARM NEON build's blocks of 64 (16 bytes, quantize_i2_s under __ARM_NEON) and the
 * x86 build without ACT_PARALLEL (4 rows interleaved per byte, quantize_i2_s_1x4 path): a file does
 * not say which layout it holds, and the converter writes this one.
 */
import { checkCount, checkQuantizeInput, checkRow } from './ggml_block.ts';

export const I2_S_BLOCK = 128;
export const I2_S_BLOCK_BYTES = 32;
/** Bytes after the codes: the float32 scale and 28 bytes of padding. */
export const I2_S_TAIL_BYTES = 32;

/** Bytes of an I2_S tensor of n weights (n a multiple of 128): the codes, then the 32-byte tail. */
export function i2sByteLength(n: number): number {
  checkCount('i2sByteLength', n, I2_S_BLOCK);
  return n / 4 + I2_S_TAIL_BYTES;
}

/** Bit shift of the field holding element m + 32k of a block (k = 0..3) in byte m. */
export function i2sShift(k: number): number {
  return 6 - 2 * k;
}

/** The tensor's scale: the float32 at byte n/4 of the tensor's data. */
export function i2sScale(bytes: Uint8Array, n: number): number {
  if (bytes.length !== i2sByteLength(n)) throw new RangeError(`i2sScale: ${n} weights take ${i2sByteLength(n)} bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat32(n / 4, true);
}

/**
 * Decodes a whole I2_S tensor of n weights (n a multiple of 128) from its n/4 + 32 bytes. The scale
 * is per tensor, so the unit of decoding is the tensor, not a row; a code 3 is a RangeError.
 */
export function dequantizeI2_S(bytes: Uint8Array, n: number, out: Float32Array): void {
  checkRow('dequantizeI2_S', bytes, n, I2_S_BLOCK, n / 4 + I2_S_TAIL_BYTES, out);
  const scale = i2sScale(bytes, n);
  for (let g = 0; g < n / I2_S_BLOCK; g++)
    for (let m = 0; m < 32; m++) {
      const byte = bytes[32 * g + m]!;
      for (let k = 0; k < 4; k++) {
        const c = (byte >> i2sShift(k)) & 3;
        if (c === 3) throw new RangeError(`dequantizeI2_S: block ${g} byte ${m} holds the unused 2-bit code 3`);
        out[128 * g + m + 32 * k] = (c - 1) * scale;
      }
    }
}

/** Packs ternary codes (−1..1, a multiple of 128, row-major) and the tensor's scale into I2_S bytes (zero padding). */
export function packI2_S(codes: Int8Array, scale: number): Uint8Array {
  checkCount('packI2_S', codes.length, I2_S_BLOCK);
  const n = codes.length;
  const out = new Uint8Array(n / 4 + I2_S_TAIL_BYTES);
  for (let i = 0; i < n; i++) {
    const t = codes[i]!;
    if (t < -1 || t > 1) throw new RangeError(`packI2_S: codes[${i}] = ${t} is outside −1..1`);
    out[32 * (i >> 7) + (i & 31)] |= (t + 1) << i2sShift((i >> 5) & 3);
  }
  new DataView(out.buffer).setFloat32(n / 4, scale, true);
  return out;
}

/**
 * bitnet.cpp's quantize_i2_s for x86 (the input is already ternary, ±β or 0, as the converter's
 * weight_quant leaves it): scale = max|x| over the tensor; c = 1 where |x| < 1e-6, else 2 for x > 0
 * and 0 for x < 0. x: finite, a multiple of 128.
 */
export function quantizeI2_S(x: Float32Array): Uint8Array {
  checkQuantizeInput('quantizeI2_S', x, I2_S_BLOCK);
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]!));
  const codes = Int8Array.from(x, (v) => (Math.abs(v) < 1e-6 ? 0 : v > 0 ? 1 : -1));
  return packI2_S(codes, max);
}
