// The quantized head / embedding kernels (EngineKernels.matmulQuant, dequantRows) and the I2_S repack:
// the TS reference against the plain float math on the dequantized weights (the contract's error bound)
// and against src/quant's decoders, then the native addon against the TS reference, bit for bit, on
// every instruction set the CPU has and several thread counts. If the addon is not built the native
// half FAILS, as in kernels.test.ts; BITNET_NO_NATIVE=1 runs the TS half only.
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { i2sToPacked, nativeKernels, quantRowBytes, referenceKernels, repackTernary } from '../../src/infer/kernels/index.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { nativeIsasUnderTest } from './helpers.ts';
import type { QuantType } from '../../src/native/engine-kernels.ts';
import { f32ToBf16Bits } from '../../src/quant/bf16.ts';
import { f32ToF16Bits } from '../../src/quant/fp16.ts';
import { GGML_CODECS } from '../../src/quant/ggml_codecs.ts';
import { packI2_S } from '../../src/quant/i2_s.ts';

const ref = referenceKernels;
const TYPES: readonly QuantType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'BF16'];
/** Where each type keeps its fp16 scales within a block (overwritten with finite values). */
const F16_FIELDS: Record<QuantType, number[]> = { Q8_0: [0], Q4_0: [0], Q4_K: [0, 2], Q6_K: [208], BF16: [] };

/** A [rows, cols] tensor of `type`: random bytes, fp16 scales ~ N(0, 0.01) (BF16: normals). */
function randomTensor(rng: Rng, type: QuantType, rows: number, cols: number): Uint8Array {
  const c = GGML_CODECS[type];
  const bytes = new Uint8Array(rows * quantRowBytes(type, cols));
  if (type === 'BF16') {
    const h = new Uint16Array(bytes.buffer);
    for (let i = 0; i < h.length; i++) h[i] = f32ToBf16Bits(rng.normal());
    return bytes;
  }
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
  for (let o = 0; o < bytes.length; o += c.blockBytes)
    for (const at of F16_FIELDS[type]) {
      const h = f32ToF16Bits(rng.normal() * 0.01);
      bytes[o + at] = h & 0xff;
      bytes[o + at + 1] = h >> 8;
    }
  return bytes;
}

function randF32(rng: Rng, len: number, scale = 1): Float32Array {
  return Float32Array.from({ length: len }, () => rng.normal() * scale);
}

/** The whole tensor decoded row by row with src/quant's decoder. */
function decodeAll(type: QuantType, w: Uint8Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const rb = quantRowBytes(type, cols);
  for (let r = 0; r < rows; r++) GGML_CODECS[type].dequantizeRow(w.subarray(r * rb, (r + 1) * rb), cols, out.subarray(r * cols, (r + 1) * cols));
  return out;
}

function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  expect(g.length, what).to.equal(w.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) expect.fail(`${what}: first difference at ${i}: ${got[i]} vs ${want[i]} (of ${g.length})`);
}

/** Shapes per type: cols whole blocks, a few rows and tokens (cols of BF16 with a tail past 32). */
const SHAPES: Record<QuantType, [rows: number, cols: number, n: number][]> = {
  Q8_0: [[5, 32, 1], [37, 96, 3], [130, 2560, 1]],
  Q4_0: [[5, 32, 1], [37, 96, 3], [130, 2560, 1]],
  Q4_K: [[3, 256, 1], [19, 512, 2], [70, 2560, 1]],
  Q6_K: [[3, 256, 1], [19, 512, 2], [70, 2560, 1]],
  BF16: [[5, 1, 1], [9, 45, 3], [70, 2560, 1]],
};

describe('infer/quant kernels', () => {
  describe('TS reference', () => {
    for (const type of TYPES)
      it(`matmulQuant ${type}: the float math on the dequantized weights, within x's int8 quantization per block (the contract's bound)`, () => {
        const rng = new Rng(3);
        for (const [rows, cols, n] of SHAPES[type]) {
          const w = randomTensor(rng, type, rows, cols);
          const x = randF32(rng, n * cols);
          const y = new Float32Array(n * rows);
          ref.matmulQuant(type, x, n, cols, w, rows, y);
          const wf = decodeAll(type, w, rows, cols);
          // BF16 is one group without quantization; the others one group of x per weight block
          const g = type === 'BF16' ? cols : GGML_CODECS[type].blockSize;
          for (let i = 0; i < n; i++)
            for (let r = 0; r < rows; r++) {
              let exact = 0;
              let bound = 0;
              for (let b = 0; b < cols; b += g) {
                let amax = 0;
                let wabs = 0;
                let mag = 0;
                for (let k = b; k < b + g; k++) {
                  const xv = x[i * cols + k]!;
                  const wv = wf[r * cols + k]!;
                  exact += xv * wv;
                  amax = Math.max(amax, Math.abs(xv));
                  wabs += Math.abs(wv);
                  mag += Math.abs(xv * wv);
                }
                const dx = type === 'BF16' ? 0 : Math.max(amax, 1e-5) / 127;
                bound += (dx / 2) * wabs + 1e-5 * (mag + dx * wabs); // x's rounding, then float32 rounding
              }
              expect(Math.abs(y[i * rows + r]! - exact), `${type} [${rows}, ${cols}] token ${i} row ${r}`).to.be.at.most(bound + 1e-30);
            }
        }
      });

    for (const type of TYPES)
      it(`dequantRows ${type}: each row as src/quant's decoder gives it (−0 included), ids in any order and repeated`, () => {
        const rng = new Rng(4);
        const [rows, cols] = SHAPES[type][1]!;
        const w = randomTensor(rng, type, rows, cols);
        const all = decodeAll(type, w, rows, cols);
        const ids = Int32Array.of(rows - 1, 0, 3, 3);
        const out = new Float32Array(ids.length * cols);
        ref.dequantRows(type, w, rows, cols, ids, out);
        ids.forEach((id, i) => expectSameBits(out.subarray(i * cols, (i + 1) * cols), all.subarray(id * cols, (id + 1) * cols), `${type} id ${id}`));
      });

    it('refuses a bad call: unknown type, cols not whole blocks, wrong lengths, ids out of range', () => {
      const w = new Uint8Array(34);
      const y = new Float32Array(1);
      expect(() => ref.matmulQuant('Q5_0' as QuantType, new Float32Array(32), 1, 32, w, 1, y)).to.throw(RangeError, /type must be one of/);
      expect(() => ref.matmulQuant('Q8_0', new Float32Array(16), 1, 16, w, 1, y)).to.throw(RangeError, /multiple of the Q8_0 block size 32/);
      expect(() => ref.matmulQuant('Q8_0', new Float32Array(32), 1, 32, w.subarray(1), 1, y)).to.throw(RangeError, /w/);
      expect(() => ref.dequantRows('Q8_0', w, 1, 32, Int32Array.of(1), new Float32Array(32))).to.throw(RangeError, /outside \[0, rows\)/);
      expect(() => ref.dequantRows('Q8_0', w, 1, 32, Int32Array.of(0), new Float32Array(31))).to.throw(RangeError, /out/);
    });
  });

  describe('I2_S repack (i2sToPacked)', () => {
    it('gives the packed layout of the same codes (each byte\'s four fields reversed) and the tensor\'s scale', () => {
      const rng = new Rng(5);
      for (const [rows, cols] of [[1, 128], [3, 384], [8, 2560]] as const) {
        const codes = Int8Array.from({ length: rows * cols }, () => rng.int(3) - 1);
        const data = packI2_S(codes, 0.75);
        const { packed, scale } = i2sToPacked(data, rows, cols);
        expect(scale).to.equal(0.75);
        expect(Array.from(packed)).to.deep.equal(Array.from(repackTernary(codes, rows, cols)));
      }
    });

    it('refuses cols not a multiple of 128, a wrong length and the unused code 3', () => {
      expect(() => i2sToPacked(new Uint8Array(32 + 32), 2, 64)).to.throw(RangeError, /multiple of 128/);
      expect(() => i2sToPacked(new Uint8Array(32 + 31), 1, 128)).to.throw(RangeError, /length/);
      const bad = packI2_S(new Int8Array(128), 1);
      bad[7] = 0xc0;
      expect(() => i2sToPacked(bad, 1, 128)).to.throw(RangeError, /byte 7 holds the unused 2-bit code 3/);
    });
  });

  describe('native addon', () => {
    const addon = nativeAddon();
    if (process.env.BITNET_NO_NATIVE === '1') return;
    it('is built and exports the quantized kernels', () => {
      expect(addon).to.not.equal(null);
      expect(typeof addon!.matmulQuant).to.equal('function');
      expect(typeof addon!.dequantRows).to.equal('function');
    });
    if (addon === null) return;
    const a = addon;
    const isas = nativeIsasUnderTest(a);

    it('the engine\'s native kernel set uses them', () => {
      expect(nativeKernels()!.matmulQuant).to.equal(a.matmulQuant);
      expect(nativeKernels()!.dequantRows).to.equal(a.dequantRows);
    });

    for (const isa of isas)
      describe(`${isa}`, () => {
        before(() => a.setIsa(isa));
        after(() => a.setIsa('auto'));

        for (const type of TYPES)
          it(`matmulQuant ${type}: the same bits as the TS reference, 1 and 2 threads`, () => {
            const rng = new Rng(11);
            for (const [rows, cols, n] of SHAPES[type])
              for (const threads of [1, 2]) {
                const w = randomTensor(rng, type, rows, cols);
                const x = randF32(rng, n * cols, rng.next() < 0.5 ? 1 : 1e-3);
                const want = new Float32Array(n * rows);
                const got = new Float32Array(n * rows).fill(7);
                ref.matmulQuant(type, x, n, cols, w, rows, want);
                a.setThreads(threads);
                a.matmulQuant(type, x, n, cols, w, rows, got);
                expectSameBits(got, want, `${isa} ${type} [${rows}, ${cols}] n ${n} threads ${threads}`);
              }
          });

        for (const type of TYPES)
          it(`dequantRows ${type}: the same bits as the TS reference (−0 included)`, () => {
            const rng = new Rng(12);
            const [rows, cols] = SHAPES[type][2]!;
            const w = randomTensor(rng, type, rows, cols);
            const ids = Int32Array.from({ length: 9 }, () => rng.int(rows));
            const want = new Float32Array(ids.length * cols);
            const got = new Float32Array(ids.length * cols);
            ref.dequantRows(type, w, rows, cols, ids, want);
            a.dequantRows(type, w, rows, cols, ids, got);
            expectSameBits(got, want, `${isa} ${type}`);
          });

        it('matmulQuant: extreme blocks (every byte but the fp16 scales 0x80 or 0xff) against x at ±max give the same bits', () => {
          const rng = new Rng(13);
          for (const type of ['Q8_0', 'Q6_K', 'Q4_K', 'Q4_0'] as const) {
            const cols = GGML_CODECS[type].blockSize * 4;
            const rows = 4;
            const w = randomTensor(rng, type, rows, cols);
            const bb = GGML_CODECS[type].blockBytes;
            // row 0: bytes 0x80 (Q8_0 codes −128, Q6_K scales −128, Q4_K high nibbles 8), row 1: 0xff (Q6_K Q = 63, Q4_K 15 with
            // scale and min 63, Q4_0 nibbles 15); the sign trick and the int16 steps of the SIMD bodies at their limits
            for (const [r, v] of [[0, 0x80], [1, 0xff]] as const)
              for (let o = r * quantRowBytes(type, cols); o < (r + 1) * quantRowBytes(type, cols); o += bb)
                for (let j = 0; j < bb; j++) if (!F16_FIELDS[type].some((at) => j === at || j === at + 1)) w[o + j] = v;
            const x = new Float32Array(cols).map((_, k) => (k % 3 === 0 ? -1 : 1) * 5);
            const want = new Float32Array(rows);
            const got = new Float32Array(rows);
            ref.matmulQuant(type, x, 1, cols, w, rows, want);
            a.matmulQuant(type, x, 1, cols, w, rows, got);
            expectSameBits(got, want, `${isa} ${type}`);
          }
        });
      });

    it('refuses the same bad calls as the TS reference, with RangeErrors', () => {
      const w = new Uint8Array(34);
      const y = new Float32Array(1);
      expect(() => a.matmulQuant('Q5_0' as QuantType, new Float32Array(32), 1, 32, w, 1, y)).to.throw(RangeError, /type must be one of/);
      expect(() => a.matmulQuant('Q8_0', new Float32Array(16), 1, 16, w, 1, y)).to.throw(RangeError, /multiple of the block size 32/);
      expect(() => a.matmulQuant('Q8_0', new Float32Array(32), 1, 32, w.subarray(1), 1, y)).to.throw(RangeError, /w/);
      expect(() => a.dequantRows('Q8_0', w, 1, 32, Int32Array.of(-1), new Float32Array(32))).to.throw(RangeError, /outside \[0, rows\)/);
    });
  });
});
