import { expect } from 'chai';
import fc from 'fast-check';
import { EPS, roundHalfEven } from '../../src/quant/round.ts';

describe('quant/round', () => {
  it('rounds halves to even, like tfjs round and C nearbyint (unlike Math.round)', () => {
    const cases: Array<[number, number]> = [
      [0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, 0], [-1.5, -2], [-2.5, -2], [126.5, 126], [127.5, 128],
      [0.49999997, 0], [0.50000006, 1], [-0.50000006, -1], [1.2, 1], [-1.7, -2], [7, 7],
    ];
    for (const [x, want] of cases) expect(roundHalfEven(x), `round(${x})`).to.equal(want);
    expect(Math.round(2.5)).to.equal(3); // the reason this module exists
  });

  it('is within 1/2, an integer, and agrees with Math.round off the halves', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (x) => {
        const r = roundHalfEven(x);
        expect(Number.isInteger(r)).to.equal(true);
        expect(Math.abs(r - x)).to.be.at.most(0.5);
        if (Math.abs(x - Math.floor(x) - 0.5) > 0) expect(r).to.equal(Math.round(x) + 0); // +0 folds −0
        else expect(r % 2).to.equal(0);
      }),
    );
  });

  it('keeps ε as the float32 that tfjs holds', () => {
    expect(EPS).to.equal(new Float32Array([1e-5])[0]);
    expect(EPS).to.not.equal(1e-5);
  });
});
