// The engine's kernels: the TS reference against the obvious math on unpacked codes, then the native
// addon against the TS reference (identical integers, identical rescaled floats, float matmuls within
// rounding) on random shapes, for several thread counts, with the AVX2 kernels and with the scalar
// fallback. If the addon is not built these tests FAIL; BITNET_NO_NATIVE=1 runs the TS half only.
import { expect } from 'chai';
import fc from 'fast-check';
import { Rng } from '../../src/data/rng.ts';
import {
  type EngineKernels,
  nativeKernels,
  packedBytes,
  referenceKernels,
  repackTernary,
  selectKernels,
  engineExp,
  kvTiledLength,
  tq2_0ToPacked,
  tsKernels,
  unpackTernary,
} from '../../src/infer/kernels/index.ts';
import { type NativeAddon, type NativeIsa, nativeAddon, nativeStatus } from '../../src/native/addon.ts';
import { f16BitsToF32 } from '../../src/quant/fp16.ts';
import { packTQ2_0 } from '../../src/quant/tq2_0.ts';

const ref = referenceKernels;

function randCodes(rng: Rng, len: number, zeroFrac = 1 / 3): Int8Array {
  const c = new Int8Array(len);
  for (let i = 0; i < len; i++) c[i] = rng.next() < zeroFrac ? 0 : rng.next() < 0.5 ? -1 : 1;
  return c;
}

function randInt8(rng: Rng, len: number): Int8Array {
  const x = new Int8Array(len);
  for (let i = 0; i < len; i++) x[i] = rng.int(256) - 128;
  return x;
}

function randF32(rng: Rng, len: number, scale = 1): Float32Array {
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = rng.normal() * scale;
  return x;
}

function randScales(rng: Rng, len: number): Float32Array {
  const s = new Float32Array(len);
  for (let i = 0; i < len; i++) s[i] = 0.01 + rng.next();
  return s;
}

/** The obvious ternary matmul on unpacked codes. */
function naiveTernary(codes: Int8Array, rows: number, cols: number, xq: Int8Array, n: number): Int32Array {
  const out = new Int32Array(n * rows);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += codes[r * cols + k]! * xq[i * cols + k]!;
      out[i * rows + r] = s;
    }
  return out;
}

/** Bitwise equality of two float arrays (so NaN payloads and −0 count), with the first difference. */
function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++)
    if (g[i] !== w[i]) expect.fail(`${what}: first difference at ${i}: ${got[i]} vs ${want[i]} (of ${g.length})`);
}

/** |got − want| ≤ tol · (Σ|terms| + tiny) elementwise, where `mag` holds Σ|terms| per element. */
function expectClose(got: Float32Array, want: Float32Array, mag: Float64Array, tol: number, what: string): void {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i]! - want[i]!) / (mag[i]! + 1e-30);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${at}: ${got[at]} vs ${want[at]}`).to.be.at.most(tol);
}

/** Σ_k |x[i,k]|·|W[r,k]| for y = x·Wᵀ. */
function absMatmul(x: Float32Array, n: number, cols: number, wAbs: (k: number) => number, rows: number): Float64Array {
  const m = new Float64Array(n * rows);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += Math.abs(x[i * cols + k]!) * wAbs(r * cols + k);
      m[i * rows + r] = s;
    }
  return m;
}

describe('infer/kernels', () => {
  describe('packed ternary layout', () => {
    it('repack then unpack gives the codes back, for any shape', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 600 }), fc.integer(), (rows, cols, seed) => {
          const codes = randCodes(new Rng(seed), rows * cols);
          const packed = repackTernary(codes, rows, cols);
          expect(packed.length).to.equal(packedBytes(rows, cols));
          expect(Array.from(unpackTernary(packed, rows, cols))).to.deep.equal(Array.from(codes));
        }),
        { numRuns: 60 },
      );
    });

    it('puts column 128j + m + 32q in bits 2q of byte m of block j, code t+1, padding t = 0', () => {
      const cols = 130;
      const codes = new Int8Array(cols);
      codes[0] = -1; // block 0, byte 0, bits 0-1 -> 0
      codes[33] = 1; // block 0, byte 1, bits 2-3 -> 2
      codes[129] = -1; // block 1, byte 1, bits 0-1 -> 0
      const p = repackTernary(codes, 1, cols);
      expect(p.length).to.equal(64);
      expect(p[0]).to.equal(0b01010100);
      expect(p[1]).to.equal(0b01011001);
      expect(p[2]).to.equal(0b01010101);
      expect(p[32]).to.equal(0b01010101); // col 128 = 0, padding beyond
      expect(p[33]).to.equal(0b01010100);
    });

    it('rejects codes outside −1..1 and wrong lengths', () => {
      expect(() => repackTernary(new Int8Array([0, 2]), 1, 2)).to.throw(RangeError, /code 2/);
      expect(() => repackTernary(new Int8Array(5), 2, 3)).to.throw(RangeError, /length 5/);
      expect(() => unpackTernary(new Uint8Array(31), 1, 128)).to.throw(RangeError);
    });

    it('reads TQ2_0 (src/quant) as the same packed bytes plus the fp16 block scales', () => {
      const rng = new Rng(5);
      const rows = 3;
      const cols = 512;
      const codes = randCodes(rng, rows * cols);
      const d = randScales(rng, (rows * cols) / 256);
      const { packed, scaleBits } = tq2_0ToPacked(packTQ2_0(codes, d), rows, cols);
      expect(Array.from(packed)).to.deep.equal(Array.from(repackTernary(codes, rows, cols)));
      const dBack = Array.from(scaleBits, (h) => f16BitsToF32(h));
      for (let b = 0; b < d.length; b++) expect(Math.abs(dBack[b]! - d[b]!)).to.be.below(1e-3 * d[b]!);
      const bad = packTQ2_0(codes, d);
      bad[5] = 0xff;
      expect(() => tq2_0ToPacked(bad, rows, cols)).to.throw(RangeError, /code 3/);
      expect(() => tq2_0ToPacked(new Uint8Array(65), 1, 256)).to.throw(RangeError);
    });
  });

  describe('TS reference kernels', () => {
    it('the TS engine\'s float matmuls (fp16 through a table) give the reference\'s bits, NaN and ±inf weights included', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (n, cols, rows, seed) => {
          const rng = new Rng(seed);
          const x = randF32(rng, n * cols);
          const w16 = new Uint16Array(rows * cols).map(() => rng.int(65536));
          const w32 = randF32(rng, rows * cols);
          for (const [name, call] of [
            ['matmulF16', (k: EngineKernels, y: Float32Array) => k.matmulF16(x, n, cols, w16, rows, y)],
            ['matmulF32', (k: EngineKernels, y: Float32Array) => k.matmulF32(x, n, cols, w32, rows, y)],
          ] as const) {
            const want = new Float32Array(n * rows);
            const got = new Float32Array(n * rows).fill(7);
            call(ref, want);
            call(tsKernels, got);
            expectSameBits(got, want, name);
          }
        }),
        { numRuns: 40 },
      );
    });

    it('the TS engine\'s ternaryMatmulScaled (lookup tables; fields for groups of 32/64/96) gives the reference\'s bits (code 3 too)', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 70 }),
          fc.oneof(fc.integer({ min: 1, max: 700 }), fc.constantFrom(128, 256, 768, 1100)),
          fc.integer({ min: 1, max: 3 }),
          fc.constantFrom('tensor', 'row', 128, 256, 32, 64, 96, 48),
          fc.integer(),
          (rows, cols, n, mode, seed) => {
            const rng = new Rng(seed);
            const packed = repackTernary(randCodes(rng, rows * cols), rows, cols);
            if (seed % 3 === 0) packed[rng.int(packed.length)] |= 0xc0; // a code 3 somewhere
            const xq = randInt8(rng, n * cols);
            const sx = randScales(rng, n);
            const group = typeof mode === 'number' ? mode : 0;
            const scale = randScales(rng, group > 0 ? rows * Math.ceil(cols / group) : mode === 'row' ? rows : 1);
            const want = new Float32Array(n * rows);
            const got = new Float32Array(n * rows).fill(Number.NaN);
            ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, group, want);
            tsKernels.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, group, got);
            expectSameBits(got, want, 'lookup-table ternaryMatmulScaled');
          },
        ),
        { numRuns: 80 },
      );
    });

    it('rmsNorm: x/√(mean x² + eps)·w within float rounding of the naive formula', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 300 }), fc.integer(), (n, cols, seed) => {
          const rng = new Rng(seed);
          const x = randF32(rng, n * cols, 3);
          const w = randF32(rng, cols);
          const out = new Float32Array(n * cols);
          ref.rmsNorm(x, w, n, cols, 1e-5, out);
          for (let i = 0; i < n; i++) {
            let ss = 0;
            for (let j = 0; j < cols; j++) ss += x[i * cols + j]! ** 2;
            const r = 1 / Math.sqrt(ss / cols + 1e-5);
            for (let j = 0; j < cols; j++) {
              const want = x[i * cols + j]! * r * w[j]!;
              expect(Math.abs(out[i * cols + j]! - want)).to.be.at.most(Math.abs(want) * 2 ** -22 + 1e-30);
            }
          }
        }),
        { numRuns: 50 },
      );
    });

    it('engineExp: within 2 ulp of e^x on [−708, 0] and beyond; 0 below −708.3, NaN stays NaN', () => {
      const rng = new Rng(5);
      let worst = 0;
      for (let i = 0; i < 20000; i++) {
        const x = i < 10000 ? -rng.next() * 40 : -rng.next() * 708;
        const want = Math.exp(x);
        worst = Math.max(worst, Math.abs(engineExp(x) - want) / want);
      }
      expect(worst).to.be.below(2 * 2 ** -52);
      expect(engineExp(0)).to.equal(1);
      expect(engineExp(-1e-300)).to.equal(1);
      expect(engineExp(-709)).to.equal(0);
      expect(engineExp(-Infinity)).to.equal(0);
      expect(engineExp(Number.NaN)).to.be.NaN;
      expect(engineExp(1)).to.be.closeTo(Math.E, 1e-15);
    });

    it('ternaryMatmul on the packed layout equals the naive sum over codes', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (rows, cols, n, seed) => {
          const rng = new Rng(seed);
          const codes = randCodes(rng, rows * cols);
          const xq = randInt8(rng, n * cols);
          const out = new Int32Array(n * rows);
          ref.ternaryMatmul(repackTernary(codes, rows, cols), rows, cols, xq, n, out);
          expect(Array.from(out)).to.deep.equal(Array.from(naiveTernary(codes, rows, cols, xq, n)));
        }),
        { numRuns: 40 },
      );
    });

    it('ternaryMatmulScaled is acc·β/s per tensor and per row, and Σ_g acc_g·β_g/s per group', () => {
      const rng = new Rng(9);
      const rows = 5;
      const cols = 100;
      const n = 2;
      const codes = randCodes(rng, rows * cols);
      const xq = randInt8(rng, n * cols);
      const sx = randScales(rng, n);
      const packed = repackTernary(codes, rows, cols);
      const acc = naiveTernary(codes, rows, cols, xq, n);
      const y = new Float32Array(n * rows);
      const perRow = randScales(rng, rows);
      ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, perRow, 0, y);
      for (let i = 0; i < n; i++)
        for (let r = 0; r < rows; r++) expect(y[i * rows + r]).to.equal(Math.fround((acc[i * rows + r]! * perRow[r]!) / sx[i]!));
      ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, perRow.subarray(0, 1), 0, y);
      expect(y[rows + 3]).to.equal(Math.fround((acc[rows + 3]! * perRow[0]!) / sx[1]!));
      // groups of 32 columns: 4 groups, the last one of 4 columns
      const g = 32;
      const gs = randScales(rng, rows * 4);
      ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, gs, g, y);
      for (let i = 0; i < n; i++)
        for (let r = 0; r < rows; r++) {
          let v = 0;
          for (let gi = 0; gi < 4; gi++) {
            let a = 0;
            for (let k = gi * g; k < Math.min(cols, (gi + 1) * g); k++) a += codes[r * cols + k]! * xq[i * cols + k]!;
            v += a * gs[r * 4 + gi]!;
          }
          expect(y[i * rows + r]).to.equal(Math.fround(v / sx[i]!));
        }
    });

    it('quantizeActivations follows DESIGN.md: s = 127/max(max|x|, ε) in float32, halves to even', () => {
      const x = new Float32Array([127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      const xq = new Int8Array(18);
      const sx = new Float32Array(3);
      ref.quantizeActivations(x, 3, 6, xq, sx);
      expect(sx[0]).to.equal(1);
      expect(Array.from(xq.subarray(0, 6))).to.deep.equal([127, 0, 2, 2, 0, -2]);
      expect(sx[1]).to.equal(Math.fround(127 / 126.5));
      expect(Array.from(xq.subarray(6, 12))).to.deep.equal([-3, 127, 0, 0, 0, 0]); // −2.5·(127/126.5) = −2.5099
      expect(sx[2]).to.equal(Math.fround(127 / Math.fround(1e-5))); // an all-zero row: max|x| floored at ε
      expect(Array.from(xq.subarray(12))).to.deep.equal([0, 0, 0, 0, 0, 0]);
    });

    it('f16ToF32 decodes every fp16 pattern as src/quant does', () => {
      const src = new Uint16Array(65536).map((_, i) => i);
      const dst = new Float32Array(65536);
      ref.f16ToF32(src, dst);
      expect(dst[0x3c00]).to.equal(1);
      expect(dst[0x0001]).to.equal(2 ** -24);
      expect(dst[0x7bff]).to.equal(65504);
      expect(dst[0xfc00]).to.equal(-Infinity);
      expect(Number.isNaN(dst[0x7e00])).to.equal(true);
      expect(Object.is(dst[0x8000], -0)).to.equal(true);
    });
  });

  describe('native addon', () => {
    const addon = nativeAddon();
    if (process.env.BITNET_NO_NATIVE === '1') {
      it('is disabled by BITNET_NO_NATIVE=1: the kernels fall back to TypeScript', () => {
        expect(addon).to.equal(null);
        expect(selectKernels('auto').name).to.equal('ts');
        expect(() => selectKernels('native')).to.throw(/not loaded/);
      });
      return;
    }
    it('is built and loads (run `node scripts/build-native.mjs`, or set BITNET_NO_NATIVE=1 for TS only)', () => {
      expect(addon, `native addon: ${nativeStatus().reason}`).to.not.equal(null);
      expect(selectKernels('auto').name).to.equal('native');
    });
    if (addon === null) return;
    const a: NativeAddon = addon;
    const nk = nativeKernels()!;
    const best = a.isa();
    const isas: NativeIsa[] = (['avx512vnni', 'avx2', 'scalar'] as const).slice((['avx512vnni', 'avx2', 'scalar'] as const).indexOf(best));
    const defaultThreads = a.threads();
    after(() => {
      a.setThreads(defaultThreads);
      a.setIsa('auto');
    });

    it('has a persistent pool whose size setThreads changes', () => {
      expect(defaultThreads).to.be.at.least(1);
      a.setThreads(3);
      expect(a.threads()).to.equal(3);
      a.setThreads(defaultThreads);
      expect(a.threads()).to.equal(defaultThreads);
      expect(() => a.setThreads(0)).to.throw(RangeError);
    });

    it('runs on the best instruction set the CPU has, and refuses to go above it', () => {
      const f = a.cpuFeatures();
      expect(best).to.equal(f.avx2 && f.fma && f.f16c ? (f.avx512vnni ? 'avx512vnni' : 'avx2') : 'scalar');
      if (best !== 'avx512vnni') expect(() => a.setIsa('avx512vnni')).to.throw(RangeError, /not supported/);
      expect(() => a.setIsa('sse' as NativeIsa)).to.throw(RangeError);
    });

    it('sgemm gives the same bits with AVX-512 and AVX2 and any thread count (one FMA chain per element in k order)', () => {
      const rng = new Rng(21);
      for (const [m, n, k] of [[37, 45, 300], [13, 16, 7], [150, 33, 520]] as const) {
        const A = randF32(rng, m * k);
        const B = randF32(rng, k * n);
        const outs: Uint32Array[] = [];
        for (const level of isas.filter((i) => i !== 'scalar')) // the scalar body multiplies then adds: no FMA
          for (const threads of [1, 2]) {
            a.setIsa(level);
            a.setThreads(threads);
            const c = new Float32Array(m * n);
            a.sgemm(m, n, k, A, false, B, false, c);
            outs.push(new Uint32Array(c.buffer));
          }
        a.setIsa('auto');
        for (const o of outs.slice(1)) expect(Array.from(o)).to.deep.equal(Array.from(outs[0]!));
      }
    });

    for (const isa of isas)
      describe(`${isa} kernels`, () => {
        before(() => {
          a.setIsa(isa);
          expect(a.isa()).to.equal(isa);
        });
        after(() => a.setIsa('auto'));

        it('ternaryMatmul: identical integer sums on random shapes and thread counts', () => {
          fc.assert(
            fc.property(
              fc.integer({ min: 1, max: 70 }),
              fc.oneof(fc.integer({ min: 1, max: 700 }), fc.constantFrom(128, 256, 384, 1024, 1100)),
              fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 16, 19), // 8+: the 2-row x 8-token VNNI tile and its remainders
              fc.constantFrom(1, 2, 3),
              fc.integer(),
              (rows, cols, n, threads, seed) => {
                const rng = new Rng(seed);
                const packed = repackTernary(randCodes(rng, rows * cols), rows, cols);
                const xq = randInt8(rng, n * cols);
                const want = new Int32Array(n * rows);
                const got = new Int32Array(n * rows).fill(-7);
                ref.ternaryMatmul(packed, rows, cols, xq, n, want);
                a.setThreads(threads);
                a.ternaryMatmul(packed, rows, cols, xq, n, got);
                expect(Array.from(got)).to.deep.equal(Array.from(want));
              },
            ),
            { numRuns: 60 },
          );
        });

        it('ternaryMatmul: the extreme sums (x = −128 or 127, all t = ±1) stay exact', () => {
          const rows = 4;
          const cols = 4096 + 96;
          const codes = new Int8Array(rows * cols);
          for (let k = 0; k < cols; k++) {
            codes[k] = 1;
            codes[cols + k] = -1;
            codes[2 * cols + k] = k % 2 ? 1 : -1;
            codes[3 * cols + k] = 0;
          }
          const xq = new Int8Array(2 * cols);
          xq.fill(-128, 0, cols);
          xq.fill(127, cols);
          const packed = repackTernary(codes, rows, cols);
          const out = new Int32Array(2 * rows);
          a.ternaryMatmul(packed, rows, cols, xq, 2, out); // the GEMM tile
          expect(Array.from(out)).to.deep.equal([-128 * cols, 128 * cols, 0, 0, 127 * cols, -127 * cols, 0, 0]);
          const one = new Int32Array(rows);
          a.ternaryMatmul(packed, rows, cols, xq.subarray(0, cols), 1, one); // the GEMV kernel
          expect(Array.from(one)).to.deep.equal([-128 * cols, 128 * cols, 0, 0]);
          // whole block pairs and 8 tokens (4 at −128, 4 at 127): the 2-row x 8-token tile, rows 0-1 and 2-3
          const k = 4096;
          const codes8 = new Int8Array(3 * k); // three rows: the last one is an odd row, paired with itself
          for (let j = 0; j < k; j++) {
            codes8[j] = 1;
            codes8[k + j] = -1;
            codes8[2 * k + j] = j % 2 ? 1 : -1;
          }
          const x8 = new Int8Array(8 * k);
          x8.fill(-128, 0, 4 * k);
          x8.fill(127, 4 * k);
          const out8 = new Int32Array(8 * 3);
          a.ternaryMatmul(repackTernary(codes8, 3, k), 3, k, x8, 8, out8);
          const want8: number[] = [];
          for (let t = 0; t < 8; t++) want8.push(...(t < 4 ? [-128 * k, 128 * k, 0] : [127 * k, -127 * k, 0]));
          expect(Array.from(out8)).to.deep.equal(want8);
        });

        it('ternaryMatmul: rows longer than one int32 accumulation chunk (600,000 columns) stay exact', () => {
          const cols = 600_000 + 64; // > 4096 blocks: the kernels accumulate in chunks, and an odd last block
          const codes = new Int8Array(2 * cols);
          for (let k = 0; k < cols; k++) {
            codes[k] = 1;
            codes[cols + k] = k % 3 === 0 ? -1 : 1;
          }
          const xq = new Int8Array(cols).fill(-128);
          const packed = repackTernary(codes, 2, cols);
          const want = new Int32Array(2);
          ref.ternaryMatmul(packed, 2, cols, xq, 1, want);
          expect(want[0]).to.equal(-128 * cols);
          for (const threads of [1, 2]) {
            a.setThreads(threads);
            const got = new Int32Array(2);
            a.ternaryMatmul(packed, 2, cols, xq, 1, got);
            expect(Array.from(got)).to.deep.equal(Array.from(want));
          }
          // 8 tokens over whole block pairs (600,064 columns = 2,344 pairs): the 2-row x 8-token tile's
          // single int32 accumulation per row and token
          const c8 = 600_064;
          const codes8 = new Int8Array(2 * c8);
          for (let k = 0; k < c8; k++) {
            codes8[k] = 1;
            codes8[c8 + k] = k % 3 === 0 ? -1 : 1;
          }
          const packed8 = repackTernary(codes8, 2, c8);
          const x8 = new Int8Array(8 * c8);
          for (let t = 0; t < 8; t++) x8.fill(t % 2 ? 127 : -128, t * c8, (t + 1) * c8);
          const want8 = new Int32Array(16);
          ref.ternaryMatmul(packed8, 2, c8, x8, 8, want8);
          expect(want8[0]).to.equal(-128 * c8);
          const got8 = new Int32Array(16);
          a.ternaryMatmul(packed8, 2, c8, x8, 8, got8);
          expect(Array.from(got8)).to.deep.equal(Array.from(want8));
        });

        it('ternaryMatmulScaled: bit-identical floats per tensor, per row and per group of 32/64/96/128/256', () => {
          fc.assert(
            fc.property(
              fc.integer({ min: 1, max: 40 }),
              fc.constantFrom(64, 128, 200, 256, 512, 640, 1000),
              fc.constantFrom(1, 3, 7, 8, 13),
              fc.constantFrom('tensor', 'row', 32, 64, 96, 128, 256),
              fc.constantFrom(1, 2),
              fc.integer(),
              (rows, cols, n, mode, threads, seed) => {
                const rng = new Rng(seed);
                const packed = repackTernary(randCodes(rng, rows * cols), rows, cols);
                const xq = randInt8(rng, n * cols);
                const sx = randScales(rng, n);
                const group = typeof mode === 'number' ? mode : 0;
                const scale = randScales(rng, mode === 'tensor' ? 1 : mode === 'row' ? rows : rows * Math.ceil(cols / group));
                const want = new Float32Array(n * rows);
                const got = new Float32Array(n * rows);
                ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, group, want);
                a.setThreads(threads);
                a.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, group, got);
                expectSameBits(got, want, `rows ${rows} cols ${cols} n ${n} ${mode}`);
              },
            ),
            { numRuns: 40 },
          );
        });

        it('ternaryMatmulScaled: bit-identical floats through the 8-token tile and its vector rescale (per tensor and per row)', () => {
          for (const [rows, cols, n] of [[37, 512, 16], [64, 768, 19], [5, 256, 8], [130, 1024, 27]] as const)
            for (const mode of ['tensor', 'row'] as const)
              for (const threads of [1, 2]) {
                const rng = new Rng(rows * 1000 + cols + n);
                const packed = repackTernary(randCodes(rng, rows * cols), rows, cols);
                const xq = randInt8(rng, n * cols);
                const sx = randScales(rng, n);
                const scale = randScales(rng, mode === 'tensor' ? 1 : rows);
                const want = new Float32Array(n * rows);
                const got = new Float32Array(n * rows);
                ref.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, 0, want);
                a.setThreads(threads);
                a.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, 0, got);
                expectSameBits(got, want, `rows ${rows} cols ${cols} n ${n} ${mode} threads ${threads}`);
              }
        });

        it('quantizeActivations: bit-identical codes and scales, halves included', () => {
          // s = 1 exactly (max 127): x·s sits on halves, in the vector body (first 32) and the tail
          const cols = 45;
          const x = new Float32Array(cols);
          const halves = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 3.5];
          for (let k = 0; k < cols; k++) x[k] = halves[k % halves.length]!;
          x[40] = 127;
          const q1 = new Int8Array(cols);
          const s1 = new Float32Array(1);
          a.quantizeActivations(x, 1, cols, q1, s1);
          expect(s1[0]).to.equal(1);
          expect(Array.from(q1.subarray(0, 9))).to.deep.equal([0, 2, 2, 0, -2, -2, 126, -126, 4]);
          fc.assert(
            fc.property(
              fc.integer({ min: 1, max: 9 }),
              fc.integer({ min: 0, max: 300 }),
              fc.constantFrom(1e-7, 1e-3, 1, 300),
              fc.integer(),
              (n, c, scale, seed) => {
                const rng = new Rng(seed);
                const xs = randF32(rng, n * c, scale);
                for (let i = 0; i < xs.length; i += 7) xs[i] = Math.round(xs[i]! * 4) / 4; // quarter steps: more halves
                const wantQ = new Int8Array(n * c);
                const wantS = new Float32Array(n);
                const gotQ = new Int8Array(n * c);
                const gotS = new Float32Array(n);
                ref.quantizeActivations(xs, n, c, wantQ, wantS);
                a.quantizeActivations(xs, n, c, gotQ, gotS);
                expectSameBits(gotS, wantS, 'scales');
                expect(Array.from(gotQ)).to.deep.equal(Array.from(wantQ));
              },
            ),
            { numRuns: 80 },
          );
        });

        it('f16ToF32 and matmulF16 decode every fp16 bit pattern (subnormals, ±0, ±inf, NaN)', () => {
          const src = new Uint16Array(65536).map((_, i) => i);
          const want = new Float32Array(65536);
          ref.f16ToF32(src, want);
          const got = new Float32Array(65536);
          a.f16ToF32(src, got);
          for (const cols of [8, 1]) {
            // W row p = [pattern p, 0, ...], x = [1, 0, ...]: y[p] is the decoded pattern, through the
            // vector loop (cols 8) and the scalar tail (cols 1)
            const w = new Uint16Array(65536 * cols);
            for (let p = 0; p < 65536; p++) w[p * cols] = p;
            const x = new Float32Array(cols);
            x[0] = 1;
            const y = new Float32Array(65536);
            a.matmulF16(x, 1, cols, w, 65536, y);
            for (let p = 0; p < 65536; p++) {
              const ok = Number.isNaN(want[p]!) ? Number.isNaN(got[p]!) && Number.isNaN(y[p]!) : Object.is(got[p], want[p]) && y[p] === want[p];
              if (!ok) expect.fail(`fp16 0x${p.toString(16)}: want ${want[p]}, f16ToF32 ${got[p]}, matmulF16 ${y[p]} (cols ${cols})`);
            }
          }
        });

        it('matmulF32 / matmulF16: y = x·Wᵀ within 1e-5 of Σ|x||w| on random shapes', () => {
          fc.assert(
            fc.property(
              fc.integer({ min: 1, max: 9 }),
              fc.integer({ min: 1, max: 300 }),
              fc.integer({ min: 1, max: 41 }),
              fc.boolean(),
              fc.constantFrom(1, 2, 3),
              fc.integer(),
              (n, cols, rows, half, threads, seed) => {
                const rng = new Rng(seed);
                const x = randF32(rng, n * cols);
                const wf = randF32(rng, rows * cols);
                const wh = new Uint16Array(rows * cols);
                for (let i = 0; i < wh.length; i++) wh[i] = (rng.int(2) << 15) | (rng.int(30) << 10) | rng.int(1024); // finite
                const want = new Float32Array(n * rows);
                const got = new Float32Array(n * rows);
                a.setThreads(threads);
                if (half) {
                  ref.matmulF16(x, n, cols, wh, rows, want);
                  a.matmulF16(x, n, cols, wh, rows, got);
                  expectClose(got, want, absMatmul(x, n, cols, (k) => Math.abs(f16BitsToF32(wh[k]!)), rows), 1e-5, 'matmulF16');
                } else {
                  ref.matmulF32(x, n, cols, wf, rows, want);
                  a.matmulF32(x, n, cols, wf, rows, got);
                  expectClose(got, want, absMatmul(x, n, cols, (k) => Math.abs(wf[k]!), rows), 1e-5, 'matmulF32');
                }
              },
            ),
            { numRuns: 50 },
          );
        });

        it('matmulF32 / matmulF16 with n = 1 (the head GEMV): many rows in chunks across threads, within 1e-5', () => {
          fc.assert(
            fc.property(
              fc.integer({ min: 1, max: 3000 }),
              fc.oneof(fc.integer({ min: 1, max: 90 }), fc.constantFrom(8, 16, 24, 768)),
              fc.boolean(),
              fc.constantFrom(1, 2, 3),
              fc.integer(),
              (rows, cols, half, threads, seed) => {
                const rng = new Rng(seed);
                const x = randF32(rng, cols);
                const want = new Float32Array(rows);
                const got = new Float32Array(rows).fill(Number.NaN);
                a.setThreads(threads);
                if (half) {
                  const wh = new Uint16Array(rows * cols);
                  for (let i = 0; i < wh.length; i++) wh[i] = (rng.int(2) << 15) | (rng.int(30) << 10) | rng.int(1024);
                  ref.matmulF16(x, 1, cols, wh, rows, want);
                  a.matmulF16(x, 1, cols, wh, rows, got);
                  expectClose(got, want, absMatmul(x, 1, cols, (k) => Math.abs(f16BitsToF32(wh[k]!)), rows), 1e-5, 'matmulF16 n=1');
                } else {
                  const wf = randF32(rng, rows * cols);
                  ref.matmulF32(x, 1, cols, wf, rows, want);
                  a.matmulF32(x, 1, cols, wf, rows, got);
                  expectClose(got, want, absMatmul(x, 1, cols, (k) => Math.abs(wf[k]!), rows), 1e-5, 'matmulF32 n=1');
                }
              },
            ),
            { numRuns: 40 },
          );
        });

        it('attention: the reference arithmetic in the reference order (GQA, causal, any pos0), bit-identical', () => {
          fc.assert(
            fc.property(
              fc.constantFrom<[number, number]>([1, 1], [4, 4], [4, 2], [6, 3], [8, 1], [20, 5]),
              fc.oneof(fc.integer({ min: 1, max: 24 }), fc.constantFrom(32, 64, 100, 128)),
              fc.integer({ min: 1, max: 80 }),
              fc.integer({ min: 0, max: 1000 }),
              fc.integer({ min: 1, max: 9 }),
              fc.constantFrom(1, 2, 3),
              fc.integer(),
              ([heads, kvHeads], hd, maxSeq, p0, nWant, threads, seed) => {
                const rng = new Rng(seed);
                const n = Math.min(nWant, maxSeq);
                const pos0 = p0 % (maxSeq - n + 1);
                const q = randF32(rng, n * heads * hd, 2);
                const kc = randF32(rng, kvHeads * kvTiledLength(maxSeq) * hd);
                const vc = randF32(rng, kvHeads * maxSeq * hd);
                const want = new Float32Array(n * heads * hd);
                const got = new Float32Array(n * heads * hd).fill(Number.NaN);
                ref.attention(q, n, pos0, kc, vc, heads, kvHeads, hd, maxSeq, want);
                a.setThreads(threads);
                a.attention(q, n, pos0, kc, vc, heads, kvHeads, hd, maxSeq, got);
                for (let i = 0; i < got.length; i++)
                  if (!Object.is(got[i], want[i])) expect.fail(`attention: out[${i}] = ${got[i]} vs ${want[i]} (n ${n}, pos0 ${pos0}, heads ${heads}/${kvHeads}, hd ${hd})`);
              },
            ),
            { numRuns: 40 },
          );
        });

        it('rmsNorm: bit-identical to the reference (rows of any length, 1-3 threads, specials)', () => {
          fc.assert(
            fc.property(
              fc.integer({ min: 1, max: 9 }),
              fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(256, 768, 1536, 2560, 4097)),
              fc.constantFrom(1, 2, 3),
              fc.integer(),
              (n, cols, threads, seed) => {
                const rng = new Rng(seed);
                const x = randF32(rng, n * cols, 5);
                const w = randF32(rng, cols);
                if (seed % 7 === 0) x[rng.int(n * cols)] = Number.NaN;
                if (seed % 5 === 0) x.fill(0, 0, cols);
                const want = new Float32Array(n * cols);
                const got = new Float32Array(n * cols).fill(-1);
                ref.rmsNorm(x, w, n, cols, 1e-6, want);
                a.setThreads(threads);
                a.rmsNorm(x, w, n, cols, 1e-6, got);
                expectSameBits(got, want, 'rmsNorm');
              },
            ),
            { numRuns: 60 },
          );
        });

        it('ropeStore: q, k rotated and k, v stored bit-identically to the reference (GQA, any pos0 and n)', () => {
          fc.assert(
            fc.property(
              fc.constantFrom<[number, number]>([1, 1], [4, 2], [6, 3], [8, 1]),
              fc.constantFrom(2, 8, 64, 128),
              fc.integer({ min: 1, max: 70 }),
              fc.integer({ min: 0, max: 1000 }),
              fc.integer({ min: 1, max: 9 }),
              fc.integer(),
              ([heads, kvHeads], hd, maxSeq, p0, nWant, seed) => {
                const rng = new Rng(seed);
                const n = Math.min(nWant, maxSeq);
                const pos0 = p0 % (maxSeq - n + 1);
                const q = randF32(rng, n * heads * hd, 2);
                const k = randF32(rng, n * kvHeads * hd, 2);
                const v = randF32(rng, n * kvHeads * hd, 2);
                const cos = randF32(rng, (maxSeq * hd) / 2);
                const sin = randF32(rng, (maxSeq * hd) / 2);
                const caches = () => [randF32(new Rng(seed + 1), kvHeads * kvTiledLength(maxSeq) * hd), randF32(new Rng(seed + 2), kvHeads * maxSeq * hd)] as const;
                const [kc1, vc1] = caches();
                const [kc2, vc2] = caches();
                const [q1, k1, q2, k2] = [q.slice(), k.slice(), q.slice(), k.slice()];
                ref.ropeStore(q1, k1, v, n, pos0, heads, kvHeads, hd, cos, sin, kc1, vc1, maxSeq);
                a.ropeStore(q2, k2, v, n, pos0, heads, kvHeads, hd, cos, sin, kc2, vc2, maxSeq);
                expectSameBits(q2, q1, 'q');
                expectSameBits(k2, k1, 'k');
                expectSameBits(kc2, kc1, 'kCache');
                expectSameBits(vc2, vc1, 'vCache');
              },
            ),
            { numRuns: 40 },
          );
        });

        it('glu: ReLU² and SiLU bit-identical to the reference (the engine’s own exp), specials included', () => {
          const specials = [0, -0, 1e-30, -1e-30, 80, -80, 700, -700, 708.5, -708.5, 709.5, -709.5, 1e38, -1e38, Infinity, -Infinity, Number.NaN];
          fc.assert(
            fc.property(fc.integer({ min: 1, max: 5000 }), fc.boolean(), fc.constantFrom(1, 2, 3), fc.integer(), (len, silu, threads, seed) => {
              const rng = new Rng(seed);
              const gate = randF32(rng, len, 4);
              const up = randF32(rng, len);
              for (let i = 0; i < Math.min(len, specials.length); i++) gate[rng.int(len)] = specials[i]!;
              const want = gate.slice();
              const got = gate.slice();
              ref.glu(want, up, silu);
              a.setThreads(threads);
              a.glu(got, up, silu);
              expectSameBits(got, want, silu ? 'glu silu' : 'glu relu2');
            }),
            { numRuns: 40 },
          );
        });

        it('sgemm: all four transpose combinations against the naive triple loop within 1e-4', () => {
          fc.assert(
            fc.property(
              fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(72, 73, 150)),
              fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(64, 129)),
              fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(256, 300, 600)),
              fc.boolean(),
              fc.boolean(),
              fc.constantFrom(1, 2, 3),
              fc.integer(),
              (m, n, k, ta, tb, threads, seed) => {
                const rng = new Rng(seed);
                const A = randF32(rng, m * k);
                const B = randF32(rng, k * n);
                const want = new Float32Array(m * n);
                const got = new Float32Array(m * n).fill(NaN);
                ref.sgemm(m, n, k, A, ta, B, tb, want);
                a.setThreads(threads);
                a.sgemm(m, n, k, A, ta, B, tb, got);
                const mag = new Float64Array(m * n);
                for (let i = 0; i < m; i++)
                  for (let j = 0; j < n; j++) {
                    let s = 0;
                    for (let p = 0; p < k; p++) s += Math.abs(A[ta ? p * m + i : i * k + p]! * B[tb ? j * k + p : p * n + j]!);
                    mag[i * n + j] = s;
                  }
                expectClose(got, want, mag, 1e-4, `sgemm ${m}x${n}x${k} ta=${ta} tb=${tb}`);
              },
            ),
            { numRuns: 50 },
          );
        });

        it('sgemmBatched: strided and broadcast batches equal per-matrix sgemm', () => {
          const rng = new Rng(77);
          for (const [batch, m, n, k, sa] of [
            [5, 7, 9, 11, 7 * 11],
            [3, 64, 48, 300, 0],
            [40, 8, 8, 8, 64],
          ] as const) {
            const A = randF32(rng, Math.max(1, (batch - 1) * sa + m * k));
            const B = randF32(rng, batch * (k * n + 1));
            const sb = k * n + 1; // a gap between matrices
            const sc = m * n;
            for (const [ta, tb] of [[false, false], [true, true], [false, true]] as const) {
              const want = new Float32Array(batch * sc);
              const got = new Float32Array(batch * sc);
              ref.sgemmBatched(batch, m, n, k, A, sa, ta, B, sb, tb, want, sc);
              a.sgemmBatched(batch, m, n, k, A, sa, ta, B, sb, tb, got, sc);
              const one = new Float32Array(m * n);
              a.sgemm(m, n, k, A.slice(sa, sa + m * k), ta, B.slice(sb, sb + k * n), tb, one);
              expectClose(got.subarray(sc, 2 * sc), one, new Float64Array(m * n).fill(1), 0, 'batch item 1 = sgemm');
              expectClose(got, want, new Float64Array(batch * sc).fill(k), 1e-5, `batched ${batch}x${m}x${n}x${k}`);
            }
          }
        });
      });

    describe('argument validation (native and TS alike: a thrown error, never a crash)', () => {
      const x8 = new Int8Array(256);
      const p = new Uint8Array(64);
      const f = (len: number) => new Float32Array(len);
      // Each case: [name, call with a kernel set, expected error]
      const cases: Array<[string, (k: EngineKernels) => void, typeof TypeError | typeof RangeError]> = [
        ['ternaryMatmul packed too short', (k) => k.ternaryMatmul(p.subarray(1), 2, 128, x8.subarray(0, 128), 1, new Int32Array(2)), RangeError],
        ['ternaryMatmul xq too short', (k) => k.ternaryMatmul(p, 2, 128, x8.subarray(0, 127), 1, new Int32Array(2)), RangeError],
        ['ternaryMatmul out too short', (k) => k.ternaryMatmul(p, 2, 128, x8.subarray(0, 128), 1, new Int32Array(1)), RangeError],
        ['ternaryMatmul xq wrong type', (k) => k.ternaryMatmul(p, 2, 128, new Uint8Array(128) as unknown as Int8Array, 1, new Int32Array(2)), TypeError],
        ['ternaryMatmul out wrong type', (k) => k.ternaryMatmul(p, 2, 128, x8.subarray(0, 128), 1, f(2) as unknown as Int32Array), TypeError],
        ['ternaryMatmul negative rows', (k) => k.ternaryMatmul(p, -2, 128, x8.subarray(0, 128), 1, new Int32Array(2)), RangeError],
        ['ternaryMatmul fractional n', (k) => k.ternaryMatmul(p, 2, 128, x8.subarray(0, 128), 1.5, new Int32Array(2)), RangeError],
        ['ternaryMatmul huge n', (k) => k.ternaryMatmul(p, 2, 128, x8.subarray(0, 128), 2 ** 40, new Int32Array(2)), RangeError],
        ['ternaryMatmul string rows', (k) => k.ternaryMatmul(p, '2' as unknown as number, 128, x8.subarray(0, 128), 1, new Int32Array(2)), TypeError],
        ['ternaryMatmul cols beyond 2^24', (k) => k.ternaryMatmul(p, 0, 2 ** 24 + 1, x8.subarray(0, 0), 0, new Int32Array(0)), RangeError],
        ['ternaryMatmulScaled scale length', (k) => k.ternaryMatmulScaled(p, 2, 128, x8.subarray(0, 128), f(1), 1, f(3), 0, f(2)), RangeError],
        ['ternaryMatmulScaled group scales', (k) => k.ternaryMatmulScaled(p, 2, 128, x8.subarray(0, 128), f(1), 1, f(3), 128, f(2)), RangeError],
        ['ternaryMatmulScaled sx length', (k) => k.ternaryMatmulScaled(p, 2, 128, x8.subarray(0, 128), f(2), 1, f(2), 0, f(2)), RangeError],
        ['quantizeActivations xq length', (k) => k.quantizeActivations(f(10), 2, 5, new Int8Array(9), f(2)), RangeError],
        ['quantizeActivations x type', (k) => k.quantizeActivations(new Float64Array(10) as unknown as Float32Array, 2, 5, new Int8Array(10), f(2)), TypeError],
        ['matmulF32 w length', (k) => k.matmulF32(f(6), 2, 3, f(8), 3, f(6)), RangeError],
        ['matmulF16 w type', (k) => k.matmulF16(f(6), 2, 3, f(9) as unknown as Uint16Array, 3, f(6)), TypeError],
        ['f16ToF32 dst length', (k) => k.f16ToF32(new Uint16Array(4), f(3)), RangeError],
        ['attention out length', (k) => k.attention(f(8), 1, 0, f(128), f(16), 2, 1, 4, 4, f(7)), RangeError],
        ['attention kCache length (whole tiles of 32 positions)', (k) => k.attention(f(8), 1, 0, f(16), f(16), 2, 1, 4, 4, f(8)), RangeError],
        ['attention vCache length', (k) => k.attention(f(8), 1, 0, f(128), f(15), 2, 1, 4, 4, f(8)), RangeError],
        ['attention heads not a multiple of kvHeads', (k) => k.attention(f(12), 1, 0, f(256), f(32), 3, 2, 4, 4, f(12)), RangeError],
        ['attention pos0 + n beyond maxSeq', (k) => k.attention(f(8), 1, 4, f(128), f(16), 2, 1, 4, 4, f(8)), RangeError],
        ['glu up length', (k) => k.glu(f(8), f(7), true), RangeError],
        ['glu silu type', (k) => k.glu(f(8), f(8), 1 as unknown as boolean), TypeError],
        ['rmsNorm w length', (k) => k.rmsNorm(f(8), f(3), 2, 4, 1e-5, f(8)), RangeError],
        ['ropeStore kCache length', (k) => k.ropeStore(f(8), f(4), f(4), 1, 0, 2, 1, 4, f(8), f(8), f(16), f(16), 4), RangeError],
        ['ropeStore odd headDim', (k) => k.ropeStore(f(6), f(3), f(3), 1, 0, 2, 1, 3, f(6), f(6), f(96), f(12), 4), RangeError],
        ['ropeStore past maxSeq', (k) => k.ropeStore(f(8), f(4), f(4), 1, 4, 2, 1, 4, f(8), f(8), f(128), f(16), 4), RangeError],
        ['rmsNorm out length', (k) => k.rmsNorm(f(8), f(4), 2, 4, 1e-5, f(7)), RangeError],
        ['rmsNorm eps zero', (k) => k.rmsNorm(f(8), f(4), 2, 4, 0, f(8)), RangeError],
        ['rmsNorm eps type', (k) => k.rmsNorm(f(8), f(4), 2, 4, '1e-5' as unknown as number, f(8)), TypeError],
        ['attention q type', (k) => k.attention(new Float64Array(8) as unknown as Float32Array, 1, 0, f(128), f(16), 2, 1, 4, 4, f(8)), TypeError],
        ['sgemm c length', (k) => k.sgemm(2, 3, 4, f(8), false, f(12), true, f(5)), RangeError],
        ['sgemm flag type', (k) => k.sgemm(2, 3, 4, f(8), 0 as unknown as boolean, f(12), true, f(6)), TypeError],
        ['sgemmBatched b too short', (k) => k.sgemmBatched(3, 2, 2, 2, f(12), 4, false, f(11), 4, false, f(12), 4), RangeError],
        ['sgemmBatched overlapping c', (k) => k.sgemmBatched(3, 2, 2, 2, f(12), 4, false, f(12), 4, false, f(12), 3), RangeError],
      ];
      for (const [name, call, err] of cases)
        it(`${name}: ${err.name}`, () => {
          expect(() => call(tsKernels), 'TS').to.throw(err);
          expect(() => call(a), 'native').to.throw(err);
        });

      it('too few arguments is a TypeError; a group size that is not a multiple of 32 is a RangeError natively and runs on TS via the dispatch', () => {
        expect(() => (a.ternaryMatmul as unknown as (...x: unknown[]) => void)(p, 2, 128)).to.throw(TypeError, /expected 6 arguments/);
        const rng = new Rng(3);
        const packed = repackTernary(randCodes(rng, 2 * 128), 2, 128);
        const xq = randInt8(rng, 128);
        const scale = randScales(rng, 2 * 8);
        expect(() => a.ternaryMatmulScaled(packed, 2, 128, xq, f(1).fill(1), 1, scale, 16, f(2))).to.throw(RangeError, /multiple of 32/);
        const want = f(2);
        const got = f(2);
        ref.ternaryMatmulScaled(packed, 2, 128, xq, f(1).fill(1), 1, scale, 16, want);
        nk.ternaryMatmulScaled(packed, 2, 128, xq, f(1).fill(1), 1, scale, 16, got);
        expectSameBits(got, want, 'group 16 via dispatch');
      });
    });
  });
});
