/**
 * The random ternary codes of `bitnet synth`'s linears, and their packing into the file's blocks.
 *
 * Element i of a tensor (row-major, a 64-bit index: the 100b shape has tensors of 3.7·10^8 weights and
 * the limits allow 1.7·10^10) gets its code from a counter hash of (seed, i), so any row can be made
 * without the ones before it and the native twin (native/src/synth.cc synthTernary, rows on the
 * thread pool, ~1 GB/s) writes the same bytes as this reference:
 *   base = fmix32(seed ^ fmix32(hi + 0x9E3779B9)), h = fmix32((lo · 0x9E3779B1 mod 2^32) ^ base)
 *   t = 0 if h < ZERO_BELOW, else +1 for odd h and −1 for even h,
 * with lo, hi the low and high 32 bits of i and fmix32 MurmurHash3's finalizer. ZERO_BELOW makes
 * P(t = 0) = 0.31006 = 2Φ(½·√(2/π)) − 1, the share of zeros that absmean quantization gives
 * Gaussian weights (|w| < β/2 with β = E|w| = σ√(2/π)), and the tensor scale is that β for σ = 0.02:
 * the statistics of a ternarized random normal matrix, without making the normals.
 */
import { f32ToF16Bits } from '../quant/fp16.ts';
import { packI2_S } from '../quant/i2_s.ts';
import { TERNARY_CODECS } from '../quant/codecs.ts';
import { nativeAddon } from '../native/addon.ts';

export type SynthCodesLayout = 'TQ1_0' | 'TQ2_0' | 'I2_S';

/** P(t = 0) · 2^32, rounded. */
export const ZERO_BELOW = 1331715453;
/** The tensor scale β = σ·√(2/π) for weights of std 0.02. */
export const SYNTH_SCALE = 0.02 * Math.sqrt(2 / Math.PI);

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The codes of elements [start, start + out.length) of the tensor with this seed (a 32-bit integer). */
/** The hash h of element i (a 64-bit index) of the tensor with this seed: the first step of synthCodes and synthNormals. */
function elementHash(seed: number, i: number): number {
  const base = fmix32((seed ^ fmix32((Math.floor(i / 2 ** 32) + 0x9e3779b9) >>> 0)) >>> 0);
  return fmix32((Math.imul(i >>> 0, 0x9e3779b1) ^ base) >>> 0);
}

export function synthCodes(seed: number, start: number, out: Int8Array): Int8Array {
  for (let k = 0; k < out.length; k++) {
    const h = elementHash(seed, start + k);
    out[k] = h < ZERO_BELOW ? 0 : h & 1 ? 1 : -1;
  }
  return out;
}

/** Bytes of a [rows, cols] tensor in the layout. */
export function synthTensorBytes(layout: SynthCodesLayout, rows: number, cols: number): number {
  const n = rows * cols;
  return layout === 'I2_S' ? n / 4 + 32 : (n / 256) * TERNARY_CODECS[layout].blockBytes;
}

/** The reference: the whole tensor's codes, then src/quant's packers (d = SYNTH_SCALE in every block, I2_S's one scale). */
export function synthTensorReference(layout: SynthCodesLayout, rows: number, cols: number, seed: number): Uint8Array {
  const codes = synthCodes(seed, 0, new Int8Array(rows * cols));
  if (layout === 'I2_S') return packI2_S(codes, SYNTH_SCALE);
  return TERNARY_CODECS[layout].pack(codes, new Float32Array((rows * cols) / 256).fill(SYNTH_SCALE));
}

/** The tensor, natively when the addon is loaded (the same bytes: test/infer/synth-codes.test.ts), else the reference. */
export function synthTensor(layout: SynthCodesLayout, rows: number, cols: number, seed: number): Uint8Array {
  const a = nativeAddon();
  if (a === null) return synthTensorReference(layout, rows, cols, seed);
  const out = new Uint8Array(synthTensorBytes(layout, rows, cols));
  a.synthTernary(layout, rows, cols, seed >>> 0, f32ToF16Bits(SYNTH_SCALE), SYNTH_SCALE, out);
  return out;
}

/** Standard deviation of the Irwin-Hall sum of four uniforms on 0..65535: √(4 · (65536² − 1) / 12). */
const IRWIN_HALL_SD = Math.sqrt((4 * (65536 * 65536 - 1)) / 12);

/**
 * synth's embedding and head values: approximate normals of std `std` for elements [start, start +
 * out.length) of the table with this seed (32-bit). Element i: with base as for synthCodes, h1 =
 * fmix32((lo · 0x9E3779B1) ^ base), h2 = fmix32(h1 ^ 0x27D4EB2F), s = the sum of the four 16-bit halves
 * of h1 and h2 minus 131070 (mean 0), value = float(s · std / IRWIN_HALL_SD) (double, then float32),
 * stored as float or as fp16 bits (round to nearest even). Integer steps and one double product, so the
 * native twin (synthNormals) gives the same bits; the sum of four uniforms is close enough to a normal
 * for a random-weight model (bounded at ±3.46 σ).
 */
export function synthNormalsReference(seed: number, start: number, std: number, out: Float32Array | Uint16Array): void {
  const scale = std / IRWIN_HALL_SD;
  for (let k = 0; k < out.length; k++) {
    const h1 = elementHash(seed, start + k);
    const h2 = fmix32((h1 ^ 0x27d4eb2f) >>> 0);
    const v = Math.fround(((h1 & 0xffff) + (h1 >>> 16) + (h2 & 0xffff) + (h2 >>> 16) - 131070) * scale);
    out[k] = out instanceof Float32Array ? v : f32ToF16Bits(v);
  }
}

/** synthNormalsReference, natively when the addon is loaded (the same bits: test/infer/tq-blocks.test.ts). */
export function synthNormals(seed: number, start: number, std: number, out: Float32Array | Uint16Array): void {
  const a = nativeAddon();
  if (a === null) synthNormalsReference(seed, start, std, out);
  else a.synthNormals(seed >>> 0, start, std / IRWIN_HALL_SD, out);
}
