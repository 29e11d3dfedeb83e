import { expect } from 'chai';
import fc from 'fast-check';
import { InputError } from '../../src/errors.ts';
import { batchAt, evalWindows } from '../../src/data/batches.ts';

const arange = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

describe('data/batches', () => {
  it('batchAt is a function of (seed, step): contiguous windows, y = x shifted by one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.nat(100000), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), (seed, step, B, T) => {
        const tokens = arange(T + 1 + 50);
        const a = batchAt(tokens, { seed, step, batchSize: B, seqLen: T });
        expect(batchAt(tokens, { seed, step, batchSize: B, seqLen: T })).to.deep.equal(a);
        expect(a.x.length).to.equal(B * T);
        for (let b = 0; b < B; b++) {
          const start = a.x[b * T]!;
          expect(start).to.be.within(0, tokens.length - T - 1);
          for (let i = 0; i < T; i++) {
            expect(a.x[b * T + i]).to.equal(start + i);
            expect(a.y[b * T + i]).to.equal(start + i + 1);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('different steps and seeds draw different batches, covering the whole split', () => {
    const tokens = arange(10000);
    const o = { seed: 1, batchSize: 8, seqLen: 16 };
    expect(batchAt(tokens, { ...o, step: 0 }).x).to.not.deep.equal(batchAt(tokens, { ...o, step: 1 }).x);
    expect(batchAt(tokens, { ...o, step: 5 }).x).to.not.deep.equal(batchAt(tokens, { ...o, seed: 2, step: 5 }).x);
    let min = Infinity;
    let max = -Infinity;
    for (let step = 0; step < 200; step++) {
      const x = batchAt(tokens, { ...o, step }).x;
      for (let b = 0; b < 8; b++) [min, max] = [Math.min(min, x[b * 16]!), Math.max(max, x[b * 16]!)];
    }
    expect(min).to.be.below(200);
    expect(max).to.be.above(10000 - 17 - 200);
  });

  it('evalWindows is fixed and evenly spaced from the start to the last full window', () => {
    const tokens = arange(1001);
    const w = evalWindows(tokens, { batches: 3, batchSize: 2, seqLen: 10 });
    expect(w).to.have.length(3);
    const starts = w.flatMap((b) => [b.x[0], b.x[10]]);
    expect(starts).to.deep.equal([0, 198, 396, 594, 792, 990]);
    expect(w[2]!.y[19]).to.equal(1000);
    expect(evalWindows(tokens, { batches: 3, batchSize: 2, seqLen: 10 })).to.deep.equal(w);
  });

  it('a split too short for the sequence length is an InputError naming it', () => {
    const tokens = arange(16);
    expect(() => batchAt(tokens, { seed: 1, step: 0, batchSize: 1, seqLen: 16, source: 'data/x/val.arrow' })).to.throw(InputError, /^data\/x\/val\.arrow: 16 tokens, too few for a sequence length of 16/);
    expect(() => evalWindows(tokens, { batches: 1, batchSize: 1, seqLen: 20, source: 'data/x/val.arrow' })).to.throw(InputError, /^data\/x\/val\.arrow: /);
    expect(batchAt(tokens, { seed: 1, step: 0, batchSize: 1, seqLen: 15 }).y[14]).to.equal(15);
  });
});
