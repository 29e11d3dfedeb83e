/**
 * 1-bit packing of binary (BitNet v1) codes: 8 codes per byte, LSB first. Bit k of byte i is code
 * 8i + k, 1 for +1 and 0 for −1; the unused high bits of the last byte are 0. n codes take ceil(n/8)
 * bytes. (GGUF has no 1-bit type: this is our own storage for binary weights, which TQ1_0/TQ2_0 can
 * also carry since ±1 are ternary codes.)
 */

/** Packs ±1 codes. */
export function packSign1(codes: Int8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(codes.length / 8));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    if (c !== 1 && c !== -1) throw new RangeError(`packSign1: codes[${i}] = ${c} is not ±1`);
    if (c === 1) out[i >>> 3]! |= 1 << (i & 7);
  }
  return out;
}

/** Unpacks n ±1 codes; rejects a wrong length or set padding bits. */
export function unpackSign1(bytes: Uint8Array, n: number): Int8Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`unpackSign1: n must be a non-negative integer, got ${n}`);
  if (bytes.length !== Math.ceil(n / 8)) throw new RangeError(`unpackSign1: ${n} codes take ${Math.ceil(n / 8)} bytes, got ${bytes.length}`);
  if (n % 8 !== 0 && bytes[bytes.length - 1]! >>> (n % 8) !== 0)
    throw new RangeError(`unpackSign1: padding bits of the last byte are set (0x${bytes[bytes.length - 1]!.toString(16)})`);
  const codes = new Int8Array(n);
  for (let i = 0; i < n; i++) codes[i] = (bytes[i >>> 3]! >>> (i & 7)) & 1 ? 1 : -1;
  return codes;
}
