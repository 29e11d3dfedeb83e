/**
 * The addon's size arithmetic: every length it checks is a product of size arguments (each below 2^31),
 * multiplied with overflow checks (native/src/addon.cc, size_product). The sizes here are chosen so
 * that the unchecked 64-bit product wraps to exactly the length of the (empty) buffers passed, which an
 * unchecked comparison would accept before the kernel indexed far outside them.
 */
import { expect } from 'chai';
import { nativeAddon } from '../../src/native/addon.ts';

describe('native addon: size products are overflow-checked before any length comparison', () => {
  if (process.env.BITNET_NO_NATIVE === '1') return;
  const a = nativeAddon();
  const empty = () => new Float32Array(0);
  const G = 2 ** 30; // G * G * 16 = 2^64: wraps to 0

  it('attention: kvHeads * tiled(maxSeq) * headDim = 2^64 is a RangeError, not a zero-length match', () => {
    expect(a, 'native addon not loaded').to.not.equal(null);
    // n = 0 queries: q and out are rightly empty; the caches "need" 2^64 floats, which wraps to 0.
    expect(() => a!.attention(empty(), 0, 0, empty(), empty(), G, G, 16, G, empty())).to.throw(RangeError, /kCache: kvHeads\*ceil\(maxSeq\/32\)\*32\*headDim overflows 64 bits/);
  });

  it('ropeApply: rows * T * headDim = 2^64 is refused the same way', () => {
    expect(() => a!.ropeApply(empty(), empty(), G, G, 16, empty(), empty(), false)).to.throw(RangeError, /x: rows\*T\*headDim overflows 64 bits/);
  });

  it('sizes that fit still give the ordinary length message', () => {
    expect(() => a!.ropeApply(new Float32Array(3), new Float32Array(8), 1, 2, 4, new Float32Array(4), new Float32Array(4), false)).to.throw(RangeError, /x has length 3, expected rows\*T\*headDim = 8/);
  });
});
