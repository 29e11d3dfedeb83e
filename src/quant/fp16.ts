/**
 * IEEE 754 binary16 conversion, for the fp16 block scales of GGUF's TQ1_0/TQ2_0. f32 → f16 rounds to
 * nearest even, keeps subnormals, saturates to ±inf past 65504 and maps NaN to the canonical quiet NaN,
 * as ggml's GGML_FP32_TO_FP16 does, so our blocks carry the same scale bytes as llama.cpp's.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The fp16 bit pattern nearest to `x`, taken first as a float32 (as the C argument is a `float`). */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | (mant !== 0 ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15; // the exponent rebiased for fp16
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) in fp16. With the implicit bit, x = m24 · 2^(e-38); in units of the fp16
    // subnormal step 2^-24 that is m24 · 2^(e-14), a right shift by 14 - e (15..24).
    if (e < -10) return sign; // below half the smallest subnormal: rounds to ±0
    return sign | roundShift(mant | 0x800000, 14 - e);
  }
  // A mantissa carry rolls into the exponent, and from 0x7bff up to 0x7c00 (inf): both are right.
  return sign | roundShift((e << 23) | mant, 13);
}

/** `v >> s` rounded to nearest, ties to even. */
function roundShift(v: number, s: number): number {
  const q = v >>> s;
  const rem = v & ((1 << s) - 1);
  const half = 1 << (s - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** The value of an fp16 bit pattern (exact: every half is a float32 and a double). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

let table: Float32Array | null = null;

/** The value of every fp16 bit pattern (f16BitsToF32 of 0..65535), built on first use: a lookup is far faster than the formula. */
export function f16Table(): Float32Array {
  table ??= Float32Array.from({ length: 65536 }, (_, h) => f16BitsToF32(h));
  return table;
}
