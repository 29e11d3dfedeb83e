/**
 * The engine's weight memory. The kernels stream every packed linear and the float head once per
 * generated token, and they run at the memory bandwidth only when each matrix starts on a cache line
 * and, on Linux, sits in huge pages: a plain ArrayBuffer of weight size starts 16 bytes past a page
 * boundary, which splits every 64-byte load in two (native/src/addon.cc, allocAligned, has the
 * measurements). A store hands out zeroed, 64-byte-aligned views carved from slabs: native memory
 * (2 MB aligned, huge pages advised) when the addon is loaded, plain ArrayBuffers otherwise.
 */
import { nativeAddon } from '../native/addon.ts';

/** Alignment of every view, in bytes: one cache line, one 512-bit load. */
export const STORE_ALIGN = 64;
const SLAB_BYTES = 64 << 20;
/**
 * Native slabs are larger: memory never touched costs no RSS, but a huge page is resident whole from
 * its first write, so the partly used last 2 MB page of every slab is waste. With 64 MB slabs the
 * 2B4T shape's weights took 1200 MB of RSS for 1178 MB of views; with 512 MB slabs (two, plus the
 * head's own buffer) 1186 MB (700m: 274 -> 272.5, 125m: 73.7 -> 71.9 MB, views 268 and 70 MB).
 */
const NATIVE_SLAB_BYTES = 512 << 20;

export class WeightStore {
  private slab: ArrayBuffer | null = null;
  private used = 0;
  /** Bytes handed out so far (alignment padding included). */
  allocated = 0;

  /** `alloc(bytes)` returns a zeroed buffer whose start is STORE_ALIGN-aligned. */
  constructor(
    readonly kind: 'native' | 'js',
    private readonly alloc: (bytes: number) => ArrayBuffer,
    private readonly slabBytes = SLAB_BYTES,
  ) {}

  /** A zeroed, aligned view of n bytes. Requests larger than a slab get a buffer of their own. */
  bytes(n: number): Uint8Array {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`WeightStore.bytes: ${n} is not a byte count`);
    const size = Math.ceil(n / STORE_ALIGN) * STORE_ALIGN;
    this.allocated += size;
    if (size > this.slabBytes / 4) return new Uint8Array(this.alloc(Math.max(size, STORE_ALIGN)), 0, n);
    if (this.slab === null || this.used + size > this.slab.byteLength) {
      this.slab = this.alloc(this.slabBytes);
      this.used = 0;
    }
    const view = new Uint8Array(this.slab, this.used, n);
    this.used += size;
    return view;
  }

  /** n 16-bit values (F16 bits), aligned like bytes(). */
  u16(n: number): Uint16Array {
    const b = this.bytes(2 * n);
    return new Uint16Array(b.buffer, b.byteOffset, n);
  }

  /** n floats, aligned like bytes(). */
  f32(n: number): Float32Array {
    const b = this.bytes(4 * n);
    return new Float32Array(b.buffer, b.byteOffset, n);
  }
}

/** A store over plain ArrayBuffers (V8 gives them 16-byte alignment at least: the views are aligned relative to it). */
export function jsStore(): WeightStore {
  return new WeightStore('js', (bytes) => new ArrayBuffer(bytes));
}

/**
 * The native store when the addon is loaded, else jsStore(). Huge pages (the default) suit memory that
 * is read whole, the weights; memory that fills as it is used (the KV cache) goes without them, so
 * that only the 4 KB pages it has written count in RSS.
 */
export function weightStore(opts: { hugePages?: boolean } = {}): WeightStore {
  const a = nativeAddon();
  if (a === null) return jsStore();
  const huge = opts.hugePages ?? true;
  return new WeightStore('native', (bytes) => a.allocAligned(bytes, huge), NATIVE_SLAB_BYTES);
}
