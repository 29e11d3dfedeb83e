import { expect } from 'chai';
import fc from 'fast-check';
import { fakeQuantActivations, quantizeActivations, type ActBits } from '../../src/quant/activations.ts';
import { EPS } from '../../src/quant/round.ts';

const rowsOf = (d: number, n: number) =>
  fc.float32Array({ minLength: d * n, maxLength: d * n, min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });

describe('quant/activations', () => {
  it('quantizes per token to int8 and int4 (hand-computed, ties to even)', () => {
    const x = new Float32Array([1, -2, 0.5, 4, 0, 0, 0, 0]);
    // row 0: max|x| = 4, s = 127/4 = 31.75; x·s = 31.75, −63.5, 15.875, 127 → 32, −64 (tie → even), 16, 127
    // row 1: all zero: s = 127/ε, q = 0
    const a = quantizeActivations(x, 4, 8);
    expect(Array.from(a.q)).to.deep.equal([32, -64, 16, 127, 0, 0, 0, 0]);
    expect(Array.from(a.scales)).to.deep.equal([31.75, Math.fround(127 / EPS)]);
    expect(Array.from(fakeQuantActivations(x, 4, 8))).to.deep.equal([32 / 31.75, -64 / 31.75, 16 / 31.75, 4, 0, 0, 0, 0].map(Math.fround));
    // int4: s = 7/4 = 1.75; x·s = 1.75, −3.5, 0.875, 7 → 2, −4 (tie → even), 1, 7
    const b = quantizeActivations(x, 4, 4);
    expect(Array.from(b.q)).to.deep.equal([2, -4, 1, 7, 0, 0, 0, 0]);
    expect(b.scales[0]).to.equal(1.75);
  });

  it('does not stretch a row whose max|x| is below ε', () => {
    // s = 127/ε, so 1e-6 maps to about 12.7 → 13, not to 127
    const a = quantizeActivations(new Float32Array([1e-6, -5e-7]), 2, 8);
    expect(Array.from(a.q)).to.deep.equal([13, -6]);
  });

  it('rejects a row length that does not divide x and an unknown bit width', () => {
    expect(() => quantizeActivations(new Float32Array(6), 4, 8)).to.throw(RangeError, /d = 4 must be a positive integer dividing x.length 6/);
    expect(() => quantizeActivations(new Float32Array(4), 4, 3 as ActBits)).to.throw(RangeError, /must be 8 or 4, got 3/);
  });

  for (const [bits, qmax] of [[8, 127], [4, 7]] as const) {
    it(`saturates int${bits}: the largest |x| of a row maps to ±${qmax}, all codes within ±${qmax}, error ≤ half a step`, () => {
      const shaped = fc
        .tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 3 }))
        .chain(([d, n]) => fc.tuple(fc.constant(d), fc.constant(n), rowsOf(d, n)));
      fc.assert(
        fc.property(shaped, ([d, n, x]) => {
          const { q, scales } = quantizeActivations(x, d, bits);
          const v = fakeQuantActivations(x, d, bits);
          for (let r = 0; r < n; r++) {
            let m = 0;
            for (let i = r * d; i < (r + 1) * d; i++) m = Math.max(m, Math.abs(x[i]!));
            const s = scales[r]!;
            for (let i = r * d; i < (r + 1) * d; i++) {
              expect(Math.abs(q[i]!)).to.be.at.most(qmax);
              // x·s is within 127·2^-24 of exact before rounding: half a step plus that
              expect(Math.abs(x[i]! * s - q[i]!)).to.be.at.most(0.5 + 1e-5);
              expect(v[i]).to.equal(Math.fround(q[i]! / s));
              if (m >= EPS && Math.abs(x[i]!) === m) expect(Math.abs(q[i]!)).to.equal(qmax);
            }
          }
        }),
      );
    });
  }

  it('survives extreme magnitudes without overflow', () => {
    const x = new Float32Array([3e38, -3e38, 1, -1e-30]);
    const a = quantizeActivations(x, 4, 8);
    expect(Array.from(a.q)).to.deep.equal([127, -127, 0, 0]);
    expect(Array.from(fakeQuantActivations(x, 4, 8)).every(Number.isFinite)).to.equal(true);
  });

  it('is scale invariant for powers of two: codes of c·x equal codes of x', () => {
    fc.assert(
      fc.property(rowsOf(8, 2), fc.integer({ min: -8, max: 8 }), (x, k) => {
        const flushed = x.map((v) => (Math.abs(v) < 2 ** -60 ? 0 : v));
        const a = quantizeActivations(flushed, 8, 8);
        fc.pre(Array.from(a.scales).every((s) => s <= 127 / EPS / 256)); // max|x| well above ε, for both
        const b = quantizeActivations(flushed.map((v) => v * 2 ** k), 8, 8);
        expect(Array.from(b.q)).to.deep.equal(Array.from(a.q));
      }),
    );
  });
});
