import { expect } from 'chai';
import fc from 'fast-check';
import { f16BitsToF32, f32ToF16Bits } from '../../src/quant/fp16.ts';

const isNaNHalf = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('quant/fp16', () => {
  it('round-trips all 65536 halves (NaNs come back as a NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      if (isNaNHalf(h)) {
        expect(Number.isNaN(v), `h=0x${h.toString(16)}`).to.equal(true);
        expect(isNaNHalf(f32ToF16Bits(v))).to.equal(true);
      } else {
        expect(f32ToF16Bits(v), `h=0x${h.toString(16)} v=${v}`).to.equal(h);
      }
    }
  });

  it('decodes and encodes the boundary values', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
      [2 ** -24, 0x0001], // smallest subnormal
      [Infinity, 0x7c00], [-Infinity, 0xfc00],
    ];
    for (const [x, h] of cases) {
      expect(f32ToF16Bits(x), `encode ${x}`).to.equal(h);
      expect(Object.is(f16BitsToF32(h), x), `decode 0x${h.toString(16)}`).to.equal(true);
    }
    expect(f32ToF16Bits(NaN)).to.equal(0x7e00);
  });

  it('rounds to nearest, ties to even, at every kind of boundary', () => {
    const cases: Array<[number, number]> = [
      [1 + 2 ** -11, 0x3c00], // half an ulp above 1: tie → even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // 1.5 ulp: tie → even (…02)
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [65519.996, 0x7bff], // below the midpoint of 65504 and 65536
      [65520, 0x7c00], // the midpoint: tie → even, which is the infinity pattern
      [1e6, 0x7c00], [-1e6, 0xfc00],
      [2 ** -25, 0x0000], // half the smallest subnormal: tie → 0
      [2 ** -25 * 1.0000001, 0x0001], // above it → 2^-24
      [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: tie → even (2)
      [2 ** -26, 0x0000], [-(2 ** -30), 0x8000],
      [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + half a step: tie → even, carries into the normals
      [0.1, 0x2e66], // 0.1 = 1.6 · 2^-4: mantissa 0.6 · 1024 = 614.4 → 614 = 0x266, exponent 11
    ];
    for (const [x, h] of cases) expect(f32ToF16Bits(x), `encode ${x}`).to.equal(h);
  });

  it('picks the nearest half for any float32 in range (ties to even)', () => {
    fc.assert(
      fc.property(fc.float({ min: Math.fround(-65504), max: Math.fround(65504), noNaN: true }), (x) => {
        const h = f32ToF16Bits(x);
        const v = f16BitsToF32(h);
        const mag = h & 0x7fff;
        const err = Math.abs(x - v);
        for (const nb of [mag - 1, mag + 1]) {
          if (nb < 0 || nb > 0x7bff) continue;
          const other = Math.abs(Math.abs(x) - f16BitsToF32(nb));
          expect(err, `x=${x}`).to.be.at.most(other);
          if (err === other) expect(mag & 1, `tie at x=${x}`).to.equal(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
