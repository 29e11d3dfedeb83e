import { expect } from 'chai';
import fc from 'fast-check';
import { packSign1, unpackSign1 } from '../../src/quant/sign1.ts';

describe('quant/sign1', () => {
  it('packs 8 codes per byte, LSB first, 1 for +1 (golden)', () => {
    // codes +1 −1 −1 +1 +1 +1 −1 −1 | +1 −1 → bits 0,3,4,5 = 0b00111001 = 0x39; then bit 0 = 0x01 (padding 0)
    const codes = new Int8Array([1, -1, -1, 1, 1, 1, -1, -1, 1, -1]);
    expect(Array.from(packSign1(codes))).to.deep.equal([0x39, 0x01]);
    expect(Array.from(unpackSign1(new Uint8Array([0x39, 0x01]), 10))).to.deep.equal(Array.from(codes));
  });

  it('round-trips any ±1 codes', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 100 }), (bits) => {
        const codes = Int8Array.from(bits, (b) => (b ? 1 : -1));
        const bytes = packSign1(codes);
        expect(bytes.length).to.equal(Math.ceil(codes.length / 8));
        expect(unpackSign1(bytes, codes.length)).to.deep.equal(codes);
      }),
    );
  });

  it('rejects codes that are not ±1, wrong lengths and set padding bits', () => {
    expect(() => packSign1(new Int8Array([1, 0]))).to.throw(RangeError, /codes\[1\] = 0 is not ±1/);
    expect(() => unpackSign1(new Uint8Array(2), 17)).to.throw(RangeError, /17 codes take 3 bytes, got 2/);
    expect(() => unpackSign1(new Uint8Array([0xff, 0x02]), 9)).to.throw(RangeError, /padding bits/);
  });
});
