// The in-place ternary kernel (EngineKernels.ternaryMatmulBlocks on TQ1_0 / TQ2_0 blocks as a file
// stores them) and synth's codes: the TS reference against the repacked path (ternaryMatmulScaled on
// the same weights: the contract says the same bits), then the native addon against the TS reference,
// bit for bit, on every instruction set the CPU has and at 1 and 2 threads; synthTernary against
// synth-codes.ts's reference byte for byte. If the addon is not built the native half FAILS;
// BITNET_NO_NATIVE=1 runs the TS half only.
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { nativeKernels, referenceKernels, repackTernary } from '../../src/infer/kernels/index.ts';
import { SYNTH_SCALE, synthCodes, synthNormalsReference, synthTensorBytes, synthTensorReference, ZERO_BELOW, type SynthCodesLayout } from '../../src/infer/synth-codes.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { nativeIsasUnderTest } from './helpers.ts';
import type { TernaryBlockType } from '../../src/native/engine-kernels.ts';
import { f32ToF16Bits } from '../../src/quant/fp16.ts';
import { TERNARY_CODECS } from '../../src/quant/codecs.ts';

const ref = referenceKernels;
const TYPES: readonly TernaryBlockType[] = ['TQ1_0', 'TQ2_0'];

/**
 * A [rows, cols] tensor of `type`. mode 'valid': codes from a codec's packer (TQ2_0 without code 3),
 * with one d per row for even rows (the uniform-row path) and one per block for odd rows; 'bytes':
 * random bytes everywhere (TQ1_0's non-canonical bytes, TQ2_0's code 3) with finite random d.
 */
function randomBlocks(rng: Rng, type: TernaryBlockType, rows: number, cols: number, mode: 'valid' | 'bytes'): Uint8Array {
  const nb = (rows * cols) / 256;
  const bb = TERNARY_CODECS[type].blockBytes;
  let w: Uint8Array;
  if (mode === 'valid') {
    const codes = Int8Array.from({ length: rows * cols }, () => rng.int(3) - 1);
    const d = new Float32Array(nb);
    for (let r = 0; r < rows; r++) {
      const rowD = rng.normal() * 0.02;
      for (let b = 0; b < cols / 256; b++) d[r * (cols / 256) + b] = r % 2 === 0 ? rowD : rng.normal() * 0.02;
    }
    w = TERNARY_CODECS[type].pack(codes, d);
  } else {
    w = Uint8Array.from({ length: nb * bb }, () => rng.int(256));
    for (let b = 0; b < nb; b++) {
      const h = f32ToF16Bits(rng.normal() * 0.02);
      w[b * bb + bb - 2] = h & 0xff;
      w[b * bb + bb - 1] = h >> 8;
    }
  }
  return w;
}

function randomActivations(rng: Rng, n: number, cols: number): { xq: Int8Array; sx: Float32Array } {
  const xq = Int8Array.from({ length: n * cols }, () => rng.int(256) - 128);
  const sx = Float32Array.from({ length: n }, () => 1 + rng.next() * 100);
  return { xq, sx };
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  expect(g.length, what).to.equal(w.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) expect.fail(`${what}: first difference at ${i}: ${got[i]} vs ${want[i]} (of ${g.length})`);
}

const SHAPES: [rows: number, cols: number, n: number][] = [[1, 256, 1], [7, 512, 1], [64, 768, 3], [33, 1280, 5], [130, 256, 9]];

describe('infer/ternary blocks in place', () => {
  describe('TS reference', () => {
    for (const type of TYPES)
      it(`${type}: the same bits as ternaryMatmulScaled on the weights repacked (per-block scales, groupSize 256)`, () => {
        const rng = new Rng(11);
        for (const [rows, cols, n] of SHAPES) {
          const w = randomBlocks(rng, type, rows, cols, 'valid');
          const { codes, d } = TERNARY_CODECS[type].unpack(w, (rows * cols) / 256);
          const packed = repackTernary(codes, rows, cols);
          const { xq, sx } = randomActivations(rng, n, cols);
          const want = new Float32Array(n * rows);
          ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, d, 256, want);
          const got = new Float32Array(n * rows);
          ref.ternaryMatmulBlocks(type, w, rows, cols, xq, sx, n, got);
          expectSameBits(got, want, `${type} ${rows}x${cols} n=${n}`);
        }
      });

    it('refuses a bad call: unknown type, cols not whole blocks, wrong lengths', () => {
      const w = new Uint8Array(54);
      const xq = new Int8Array(256);
      const sx = new Float32Array(1);
      const y = new Float32Array(1);
      expect(() => ref.ternaryMatmulBlocks('Q8_0' as TernaryBlockType, w, 1, 256, xq, sx, 1, y)).to.throw(RangeError, /type/);
      expect(() => ref.ternaryMatmulBlocks('TQ1_0', w, 1, 128, xq.subarray(0, 128), sx, 1, y)).to.throw(RangeError, /multiple of 256/);
      expect(() => ref.ternaryMatmulBlocks('TQ1_0', w.subarray(1), 1, 256, xq, sx, 1, y)).to.throw(RangeError, /w has length/);
      expect(() => ref.ternaryMatmulBlocks('TQ2_0', w, 1, 256, xq, sx, 1, y)).to.throw(RangeError, /w has length/);
      expect(() => ref.ternaryMatmulBlocks('TQ1_0', w, 1, 256, xq, sx, 1, new Float32Array(2))).to.throw(RangeError, /y has length/);
    });
  });

  describe('synth codes', () => {
    it('have the stated statistics: 31.0 % zeros, signs balanced, past 2^32 too', () => {
      for (const start of [0, 2 ** 32 - 50_000, 7 * 2 ** 32]) {
        const c = synthCodes(5, start, new Int8Array(100_000));
        const zeros = c.filter((t) => t === 0).length / c.length;
        const plus = c.filter((t) => t === 1).length / c.length;
        expect(zeros).to.be.closeTo(ZERO_BELOW / 2 ** 32, 0.005);
        expect(plus).to.be.closeTo((1 - zeros) / 2, 0.005);
      }
      // different seeds and different halves of the 64-bit index give different codes
      const a = synthCodes(5, 0, new Int8Array(1000));
      expect(synthCodes(6, 0, new Int8Array(1000))).to.not.deep.equal(a);
      expect(synthCodes(5, 2 ** 32, new Int8Array(1000))).to.not.deep.equal(a);
    });

    it('table normals: mean 0, std 0.02 (to 1 %), bounded at 3.46 std, different past 2^32', () => {
      const x = new Float32Array(200_000);
      synthNormalsReference(7, 0, 0.02, x);
      const mean = x.reduce((a, v) => a + v, 0) / x.length;
      const sd = Math.sqrt(x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length);
      expect(mean).to.be.closeTo(0, 2e-4);
      expect(sd).to.be.closeTo(0.02, 2e-4);
      expect(x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).to.be.below(0.02 * 3.47);
      const far = new Float32Array(1000);
      synthNormalsReference(7, 2 ** 32, 0.02, far);
      expect(Array.from(far)).to.not.deep.equal(Array.from(x.subarray(0, 1000)));
    });

    it('pack to the codes they were made from, scale β = 0.02·√(2/π)', () => {
      const w = synthTensorReference('TQ1_0', 3, 512, 9);
      expect(w.length).to.equal(synthTensorBytes('TQ1_0', 3, 512));
      const { codes, d } = TERNARY_CODECS.TQ1_0.unpack(w, 6);
      expect(Array.from(codes)).to.deep.equal(Array.from(synthCodes(9, 0, new Int8Array(3 * 512))));
      expect(d[0]).to.be.closeTo(SYNTH_SCALE, 1e-5);
    });
  });

  describe('native addon', () => {
    const addon = nativeAddon();
    if (process.env.BITNET_NO_NATIVE === '1') return;
    it('is built and exports ternaryMatmulBlocks and synthTernary', () => {
      expect(addon).to.not.equal(null);
      expect(typeof addon!.ternaryMatmulBlocks).to.equal('function');
      expect(typeof addon!.synthTernary).to.equal('function');
    });
    if (addon === null) return;
    const a = addon;
    const isas = nativeIsasUnderTest(a);

    it("the engine's native kernel set uses it", () => {
      expect(nativeKernels()!.ternaryMatmulBlocks).to.equal(a.ternaryMatmulBlocks);
    });

    for (const isa of isas)
      describe(isa, () => {
        before(() => a.setIsa(isa));
        after(() => a.setIsa('auto'));
        for (const type of TYPES)
          for (const mode of ['valid', 'bytes'] as const)
            it(`${type} (${mode === 'valid' ? "a packer's blocks, uniform and per-block d" : 'random bytes'}): the same bits as the TS reference, 1 and 2 threads`, () => {
              const rng = new Rng(mode === 'valid' ? 21 : 22);
              for (const [rows, cols, n] of SHAPES) {
                const w = randomBlocks(rng, type, rows, cols, mode);
                const { xq, sx } = randomActivations(rng, n, cols);
                const want = new Float32Array(n * rows);
                ref.ternaryMatmulBlocks(type, w, rows, cols, xq, sx, n, want);
                for (const threads of [1, 2]) {
                  a.setThreads(threads);
                  const got = new Float32Array(n * rows).fill(NaN);
                  a.ternaryMatmulBlocks(type, w, rows, cols, xq, sx, n, got);
                  expectSameBits(got, want, `${isa} ${type} ${rows}x${cols} n=${n} threads=${threads}`);
                }
              }
            });
        it("synthNormals: the reference's bits as floats and as fp16, from any start (past 2^32 too)", () => {
          for (const [seed, start, n] of [[1, 0, 70_001], [0xfffffff1, 2 ** 32 - 1000, 5000], [77, 3 * 2 ** 32 + 5, 999]] as const) {
            const want = new Float32Array(n);
            synthNormalsReference(seed, start, 0.02, want);
            const got = new Float32Array(n);
            a.synthNormals(seed, start, 0.02 / Math.sqrt((4 * (65536 * 65536 - 1)) / 12), got);
            expectSameBits(got, want, `f32 seed ${seed} start ${start}`);
            const want16 = new Uint16Array(n);
            synthNormalsReference(seed, start, 0.02, want16);
            const got16 = new Uint16Array(n);
            a.synthNormals(seed, start, 0.02 / Math.sqrt((4 * (65536 * 65536 - 1)) / 12), got16);
            expect(Buffer.from(got16.buffer).equals(Buffer.from(want16.buffer)), `f16 seed ${seed} start ${start}`).to.equal(true);
          }
        });
        for (const layout of ['TQ1_0', 'TQ2_0', 'I2_S'] as SynthCodesLayout[])
          it(`synthTernary ${layout}: the reference's bytes`, () => {
            for (const [rows, cols, seed] of [[1, 256, 1], [5, 768, 0xfffffff1], [40, 1024, 77]] as const) {
              const out = new Uint8Array(synthTensorBytes(layout, rows, cols));
              a.synthTernary(layout, rows, cols, seed, f32ToF16Bits(SYNTH_SCALE), SYNTH_SCALE, out);
              expect(Buffer.from(out).equals(Buffer.from(synthTensorReference(layout, rows, cols, seed))), `${layout} ${rows}x${cols}`).to.equal(true);
            }
          });
      });

    it('ternaryBlocksToPacked: the packed bytes and d of the TS conversions; TQ2_0 code 3 named by its first block', () => {
      const rng = new Rng(31);
      for (const type of TYPES)
        for (const [rows, cols] of [[3, 256], [17, 1280], [64, 512]] as const) {
          const w = randomBlocks(rng, type, rows, cols, 'valid');
          const nb = (rows * cols) / 256;
          const packed = new Uint8Array(nb * 64);
          const d = new Float32Array(nb);
          expect(a.ternaryBlocksToPacked(type, w, nb, packed, d)).to.equal(-1);
          const u = TERNARY_CODECS[type].unpack(w, nb);
          expect(Buffer.from(packed).equals(Buffer.from(repackTernary(u.codes, rows, cols))), `${type} ${rows}x${cols}`).to.equal(true);
          expect(Array.from(d)).to.deep.equal(Array.from(u.d));
        }
      const w = randomBlocks(rng, 'TQ2_0', 40, 256, 'valid');
      w[66 * 37 + 5] = 0x0c; // block 37: field 1 holds code 3
      w[66 * 39 + 60] = 0xff;
      expect(a.ternaryBlocksToPacked('TQ2_0', w, 40, new Uint8Array(40 * 64), new Float32Array(40))).to.equal(37);
    });

    it('refuses a bad call before touching memory', () => {
      const xq = new Int8Array(256);
      const sx = new Float32Array(1);
      const y = new Float32Array(1);
      expect(() => a.ternaryMatmulBlocks('TQ3' as TernaryBlockType, new Uint8Array(54), 1, 256, xq, sx, 1, y)).to.throw(RangeError, /type must be one of/);
      expect(() => a.ternaryMatmulBlocks('TQ1_0', new Uint8Array(53), 1, 256, xq, sx, 1, y)).to.throw(RangeError, /w has length/);
      expect(() => a.ternaryMatmulBlocks('TQ1_0', new Uint8Array(54), 1, 128, xq.subarray(0, 128), sx, 1, y)).to.throw(RangeError, /multiple of 256/);
      expect(() => a.synthTernary('TQ1_0', 1, 256, 1, 0, 0, new Uint8Array(53))).to.throw(RangeError, /out has length/);
      expect(() => a.synthTernary('I2_S', 1, 100, 1, 0, 0, new Uint8Array(57))).to.throw(RangeError, /multiple of 128/);
      expect(() => a.mapFile(1 << 20, 100, Float64Array.of(0, 100))).to.throw(RangeError, /cannot map/);
      expect(() => a.mapFile(0, 100, Float64Array.of(50, 60))).to.throw(RangeError, /region 0/);
      expect(() => a.mapFile(0, 2 ** 33, Float64Array.of(0, 2 ** 32))).to.throw(RangeError, /under 4 GiB/);
      expect(() => a.mapFile(0, 100, Float64Array.of(0))).to.throw(RangeError, /pairs/);
      expect(() => a.ternaryBlocksToPacked('TQ1_0', new Uint8Array(54), 1, new Uint8Array(63), new Float32Array(1))).to.throw(RangeError, /packed has length/);
    });
  });
});
