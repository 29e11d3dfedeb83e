/**
 * GGUF BF16 (ggml type 30): bfloat16, the top half of a float32, as llama.cpp's ggml-impl.h
 * ggml_compute_bf16_to_fp32 / ggml_compute_fp32_to_bf16 (HF checkpoints of BitNet b1.58 2B4T ship
 * their latent weights in it).
 *
 * One element per "block", 2 bytes, little-endian: bits 15 sign, 14–7 exponent, 6–0 mantissa.
 * Value = the float32 with these 16 bits on top and 16 zero bits below (exact: NaN payloads,
 * subnormals and ±inf included).
 */
import { checkRow } from './ggml_block.ts';

export const BF16_BLOCK = 1;
export const BF16_BLOCK_BYTES = 2;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The value of a bf16 bit pattern. */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/**
 * ggml_compute_fp32_to_bf16: round to nearest even on the dropped 16 bits (a carry may round up to
 * ±inf), NaN kept NaN with the quiet bit (0x40) forced on. Not an IEEE conversion of subnormals to
 * zero: they round like any other value.
 */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Decodes n values from 2n bytes. */
export function dequantizeRowBF16(bytes: Uint8Array, n: number, out: Float32Array): void {
  checkRow('dequantizeRowBF16', bytes, n, BF16_BLOCK, 2 * n, out);
  const o32 = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) o32[i] = (bytes[2 * i]! << 16) | (bytes[2 * i + 1]! << 24);
}

/** ggml_fp32_to_bf16_row_ref: every value rounded as f32ToBf16Bits, little-endian. */
export function quantizeRowBF16(x: Float32Array): Uint8Array {
  if (!(x instanceof Float32Array)) throw new TypeError('quantizeRowBF16: x must be a Float32Array');
  const out = new Uint8Array(2 * x.length);
  for (let i = 0; i < x.length; i++) {
    const h = f32ToBf16Bits(x[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}
