import { expect } from 'chai';
import fc from 'fast-check';
import { EPS } from '../../src/quant/round.ts';
import { blockScales, dequantize, quantizeBinary, quantizeTernary, scaleOf, type Granularity } from '../../src/quant/weights.ts';

// A 2×4 matrix of dyadic values, so every mean below is exact and can be checked by hand.
const W = new Float32Array([0.5, -0.25, 0.125, 0, -1, 0.75, -0.0625, 0.25]);

/** Random matrices whose cols are a whole number of groups of g, values in [−4, 4]. */
const matrices = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(1, 2, 4, 8))
  .chain(([rows, groups, g]) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(groups * g),
      gran: fc.constantFrom<Granularity>({ kind: 'tensor' }, { kind: 'row' }, { kind: 'group', size: g }),
      w: fc.float32Array({ minLength: rows * groups * g, maxLength: rows * groups * g, min: -4, max: 4, noNaN: true, noDefaultInfinity: true }),
    }),
  );

describe('quant/weights ternary', () => {
  it('quantizes per tensor (hand-computed)', () => {
    // Σ|W| = 2.9375, β = 2.9375 / 8 = 0.3671875; W/β = 1.36, −0.68, 0.34, 0, −2.72, 2.04, −0.17, 0.68
    const q = quantizeTernary(W, 2, 4, { kind: 'tensor' });
    expect(Array.from(q.scales)).to.deep.equal([0.3671875]);
    expect(Array.from(q.codes)).to.deep.equal([1, -1, 0, 0, -1, 1, 0, 1]);
    expect(Array.from(dequantize(q))).to.deep.equal([0.3671875, -0.3671875, 0, 0, -0.3671875, 0.3671875, 0, 0.3671875]);
  });

  it('quantizes per row and per group (hand-computed)', () => {
    // rows: β0 = 0.875/4 = 0.21875 (W/β = 2.29, −1.14, 0.57, 0); β1 = 2.0625/4 = 0.515625 (−1.94, 1.45, −0.12, 0.48)
    const r = quantizeTernary(W, 2, 4, { kind: 'row' });
    expect(Array.from(r.scales)).to.deep.equal([0.21875, 0.515625]);
    expect(Array.from(r.codes)).to.deep.equal([1, -1, 1, 0, -1, 1, 0, 0]);
    // groups of 2: β = 0.375, 0.0625, 0.875, 0.15625; W/β = 1.33, −0.67 | 2, 0 | −1.14, 0.86 | −0.4, 1.6
    const g = quantizeTernary(W, 2, 4, { kind: 'group', size: 2 });
    expect(Array.from(g.scales)).to.deep.equal([0.375, 0.0625, 0.875, 0.15625]);
    expect(Array.from(g.codes)).to.deep.equal([1, -1, 1, 0, -1, 1, 0, 1]);
    expect(scaleOf(g, 1, 3)).to.equal(0.15625);
    expect(scaleOf(g, 0, 2)).to.equal(0.0625);
    expect(scaleOf(r, 1, 0)).to.equal(0.515625);
  });

  it('rounds ties to even: W/β = 0.5 gives 0, where Math.round would give 1', () => {
    const q = quantizeTernary(new Float32Array([0.5, 1.5, -0.5, -1.5]), 2, 2, { kind: 'row' }); // β = 1 per row
    expect(Array.from(q.codes)).to.deep.equal([0, 1, 0, -1]);
  });

  it('divides by max(β, ε) but keeps β itself as the scale', () => {
    const zeros = quantizeTernary(new Float32Array(4), 1, 4, { kind: 'tensor' });
    expect(Array.from(zeros.codes)).to.deep.equal([0, 0, 0, 0]);
    expect(zeros.scales[0]).to.equal(0);
    // β = 4e-6 < ε: W/ε = 0.8 and 0.4 → codes 1 and 0; with a division by β they would be 2 → 1 and 1
    const tiny = quantizeTernary(new Float32Array([8e-6, 4e-6, -4e-6, 0]), 1, 4, { kind: 'tensor' });
    expect(Array.from(tiny.codes)).to.deep.equal([1, 0, 0, 0]);
    expect(tiny.scales[0]).to.equal(Math.fround(Math.fround(1.6e-5) / 4));
    expect(EPS).to.be.greaterThan(tiny.scales[0]!);
  });

  it('rejects bad shapes and group sizes, naming the problem', () => {
    expect(() => quantizeTernary(W, 2, 4, { kind: 'group', size: 3 })).to.throw(RangeError, /group size 3 does not divide cols 4/);
    expect(() => quantizeTernary(W, 3, 4, { kind: 'row' })).to.throw(RangeError, /8 values, expected rows·cols = 12/);
    expect(() => quantizeTernary(W, 0, 8, { kind: 'row' })).to.throw(RangeError, /rows must be a positive integer/);
    expect(() => quantizeBinary(W, 2, 4, { kind: 'group', size: 0 })).to.throw(RangeError, /group size must be a positive integer/);
    const q = quantizeTernary(W, 2, 4, { kind: 'row' });
    expect(() => scaleOf(q, 2, 0)).to.throw(RangeError, /outside/);
  });

  it('gives codes in −1..1, values β·code, and |code − W/β| ≤ 1/2 where not clamped', () => {
    fc.assert(
      fc.property(matrices, ({ rows, cols, gran, w }) => {
        const q = quantizeTernary(w, rows, cols, gran);
        const v = dequantize(q);
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) {
            const i = r * cols + c;
            const code = q.codes[i]!;
            const beta = scaleOf(q, r, c);
            expect(code).to.be.oneOf([-1, 0, 1]);
            expect(v[i]).to.equal(code * beta);
            const ratio = w[i]! / Math.max(beta, EPS);
            if (Math.abs(ratio) <= 1.5) expect(Math.abs(code - ratio)).to.be.at.most(0.5 + 1e-6);
            else expect(code).to.equal(Math.sign(ratio));
          }
      }),
    );
  });

  it('is scale invariant: codes of c·W equal codes of W, β scales by exactly c (c a power of two)', () => {
    // For c = 2^k, multiplying by c commutes exactly with every step (|w|, the double sum and its
    // rounding to float32, the division by n, W/β), as long as nothing leaves float32's normal range:
    // values are in [2^-60, 4] or 0 and |k| ≤ 8. The one step that is not invariant is the clamp
    // max(β, ε), so β ≥ ε is required of both. A c that is not a power of two would round c·W and
    // could move a W/β that sits on a rounding boundary: invariance is exact only for powers of two.
    fc.assert(
      fc.property(matrices, fc.integer({ min: -8, max: 8 }), ({ rows, cols, gran, w }, k) => {
        const flushed = w.map((x) => (Math.abs(x) < 2 ** -60 ? 0 : x));
        const c = 2 ** k;
        const scaled = flushed.map((x) => x * c);
        const a = quantizeTernary(flushed, rows, cols, gran);
        const b = quantizeTernary(scaled, rows, cols, gran);
        fc.pre(a.scales.every((s) => s >= EPS && s * c >= EPS));
        expect(Array.from(b.codes)).to.deep.equal(Array.from(a.codes));
        expect(Array.from(b.scales)).to.deep.equal(Array.from(a.scales, (s) => s * c));
      }),
    );
  });
});

describe('quant/weights binary', () => {
  it('quantizes around the mean (hand-computed)', () => {
    // α = ΣW / 8 = 0.3125 / 8 = 0.0390625; W − α > 0 for 0.5, 0.125, 0.75, 0.25; β = mean|W| = 0.3671875
    const q = quantizeBinary(W, 2, 4, { kind: 'tensor' });
    expect(Array.from(q.codes)).to.deep.equal([1, -1, 1, -1, -1, 1, -1, 1]);
    expect(Array.from(q.scales)).to.deep.equal([0.3671875]);
    // per row: α0 = 0.375/4 = 0.09375 (so 0 → −1); α1 = −0.0625/4 = −0.015625 (so −0.0625 → −1)
    const r = quantizeBinary(W, 2, 4, { kind: 'row' });
    expect(Array.from(r.codes)).to.deep.equal([1, -1, 1, -1, -1, 1, -1, 1]);
    expect(Array.from(r.scales)).to.deep.equal([0.21875, 0.515625]);
  });

  it('maps W equal to the mean to −1 (the test is W − α > 0)', () => {
    const q = quantizeBinary(new Float32Array([0.5, 0.5, -0.5, 0.5]), 2, 2, { kind: 'row' });
    expect(Array.from(q.codes)).to.deep.equal([-1, -1, -1, 1]);
  });

  it('gives ±1 codes, and codes of c·W equal codes of W for c > 0', () => {
    // Any c > 0 keeps the order of W and α in exact arithmetic; the float32 rounding of c·W and of
    // the mean could still tie or cross for a W next to α, so c is a power of two here too.
    fc.assert(
      fc.property(matrices, fc.integer({ min: -8, max: 8 }), ({ rows, cols, gran, w }, k) => {
        const flushed = w.map((x) => (Math.abs(x) < 2 ** -60 ? 0 : x));
        const a = quantizeBinary(flushed, rows, cols, gran);
        const b = quantizeBinary(flushed.map((x) => x * 2 ** k), rows, cols, gran);
        for (const code of a.codes) expect(code).to.be.oneOf([-1, 1]);
        expect(Array.from(b.codes)).to.deep.equal(Array.from(a.codes));
        expect(Array.from(b.scales)).to.deep.equal(Array.from(a.scales, (s) => s * 2 ** k));
      }),
    );
  });
});

describe('quant/weights blockScales', () => {
  it('gives one scale per 256-weight block, and refuses blocks that span different group scales', () => {
    const w = new Float32Array(2 * 512).map((_, i) => (i < 512 ? 0.5 : -2) * (i % 3 === 0 ? 1 : -1));
    const r = quantizeTernary(w, 2, 512, { kind: 'row' });
    expect(Array.from(blockScales(r, 256))).to.deep.equal([0.5, 0.5, 2, 2]);
    const g = quantizeTernary(w, 2, 512, { kind: 'group', size: 512 });
    expect(Array.from(blockScales(g, 256))).to.deep.equal([0.5, 0.5, 2, 2]);
    const ramp = new Float32Array(512).map((_, i) => i / 512);
    const small = quantizeTernary(ramp, 1, 512, { kind: 'group', size: 128 });
    expect(() => blockScales(small, 256)).to.throw(RangeError, /row 0 block 0 spans groups of 128 columns with different scales/);
    expect(() => blockScales(r, 300)).to.throw(RangeError, /dividing cols 512/);
  });
});
