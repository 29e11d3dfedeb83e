// The GGUF block decoders of src/quant (Q8_0, Q4_0, Q4_K, Q6_K, BF16, I2_S): blocks whose values are
// worked out by hand here, the reference quantizers' golden bytes and round trips, properties on random
// blocks against a second decoder written in this file in ggml's own loop order (dequantize_row_* of
// llama.cpp's ggml-quants.c, transcribed), and rejection of wrong lengths.
import { expect } from 'chai';
import fc from 'fast-check';
import { ggmlTypeByName } from '../../src/format/gguf/constants.ts';
import { bf16BitsToF32, f32ToBf16Bits } from '../../src/quant/bf16.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/quant/fp16.ts';
import { GGML_CODECS, ggmlCodec, type GgmlTypeName } from '../../src/quant/ggml_codecs.ts';
import { i2sScale, packI2_S, quantizeI2_S } from '../../src/quant/i2_s.ts';
import { quantizeRowQ4_0 } from '../../src/quant/q4_0.ts';
import { quantizeRowQ8_0 } from '../../src/quant/q8_0.ts';
import { hex } from './support.ts';

const f = Math.fround;

/** Decodes with the registry's decoder into a fresh array. */
function decode(type: GgmlTypeName, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  GGML_CODECS[type].dequantizeRow(bytes, n, out);
  return out;
}

/** Writes the fp16 of `v` little-endian at `o`. */
function putF16(b: Uint8Array, o: number, v: number): void {
  const h = f32ToF16Bits(v);
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

const h16 = (b: Uint8Array, o: number): number => f16BitsToF32(b[o]! | (b[o + 1]! << 8));
const i8 = (v: number): number => (v << 24) >> 24;

// ---- ggml's dequantize_row_* loops, transcribed in their own order (a second decoder) ----

function ggmlQ8_0(x: Uint8Array, k: number): number[] {
  const y: number[] = [];
  for (let i = 0; i < k / 32; i++) {
    const d = h16(x, 34 * i);
    for (let j = 0; j < 32; j++) y.push(f(i8(x[34 * i + 2 + j]!) * d));
  }
  return y;
}

function ggmlQ4_0(x: Uint8Array, k: number): number[] {
  const y = new Array<number>(k);
  for (let i = 0; i < k / 32; i++) {
    const d = h16(x, 18 * i);
    for (let j = 0; j < 16; j++) {
      y[i * 32 + j] = f(((x[18 * i + 2 + j]! & 0x0f) - 8) * d);
      y[i * 32 + j + 16] = f(((x[18 * i + 2 + j]! >> 4) - 8) * d);
    }
  }
  return y;
}

/** get_scale_min_k4 as ggml writes it. */
function getScaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j]! & 63, q[o + j + 4]! & 63];
  return [(q[o + j + 4]! & 0xf) | ((q[o + j - 4]! >> 6) << 4), (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4)];
}

function ggmlQ4_K(x: Uint8Array, k: number): number[] {
  const y: number[] = [];
  for (let i = 0; i < k / 256; i++) {
    const b = 144 * i;
    const d = h16(x, b);
    const min = h16(x, b + 2);
    let q = b + 16;
    let is = 0;
    for (let j = 0; j < 256; j += 64) {
      const [sc1, m1s] = getScaleMinK4(is + 0, x, b + 4);
      const [sc2, m2s] = getScaleMinK4(is + 1, x, b + 4);
      const d1 = f(d * sc1), m1 = f(min * m1s), d2 = f(d * sc2), m2 = f(min * m2s); // prettier-ignore
      for (let l = 0; l < 32; l++) y.push(f(d1 * (x[q + l]! & 0xf) - m1));
      for (let l = 0; l < 32; l++) y.push(f(d2 * (x[q + l]! >> 4) - m2));
      q += 32;
      is += 2;
    }
  }
  return y;
}

function ggmlQ6_K(x: Uint8Array, k: number): number[] {
  const y = new Array<number>(k);
  for (let i = 0; i < k / 256; i++) {
    const b = 210 * i;
    const d = h16(x, b + 208);
    let ql = b, qh = b + 128, sc = b + 192, yo = 256 * i; // prettier-ignore
    for (let n = 0; n < 256; n += 128) {
      for (let l = 0; l < 32; l++) {
        const is = Math.floor(l / 16);
        const q1 = ((x[ql + l]! & 0xf) | (((x[qh + l]! >> 0) & 3) << 4)) - 32;
        const q2 = ((x[ql + l + 32]! & 0xf) | (((x[qh + l]! >> 2) & 3) << 4)) - 32;
        const q3 = ((x[ql + l]! >> 4) | (((x[qh + l]! >> 4) & 3) << 4)) - 32;
        const q4 = ((x[ql + l + 32]! >> 4) | (((x[qh + l]! >> 6) & 3) << 4)) - 32;
        y[yo + l] = f(f(d * i8(x[sc + is]!)) * q1);
        y[yo + l + 32] = f(f(d * i8(x[sc + is + 2]!)) * q2);
        y[yo + l + 64] = f(f(d * i8(x[sc + is + 4]!)) * q3);
        y[yo + l + 96] = f(f(d * i8(x[sc + is + 6]!)) * q4);
      }
      yo += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
  return y;
}

/** bitnet.cpp's I2_S read as its AVX2 GEMV does (ggml_vec_dot_i2_i8_s: shifts 6, 4, 2, 0 for the quarters), times the scale. */
function bitnetI2_S(x: Uint8Array, n: number): number[] {
  const scale = new DataView(x.buffer, x.byteOffset).getFloat32(n / 4, true);
  const y = new Array<number>(n);
  for (let g = 0; g < n / 128; g++)
    for (let m = 0; m < 32; m++) {
      const byte = x[32 * g + m]!;
      y[128 * g + m] = ((byte >> 6) - 1) * scale;
      y[128 * g + m + 32] = (((byte >> 4) & 3) - 1) * scale;
      y[128 * g + m + 64] = (((byte >> 2) & 3) - 1) * scale;
      y[128 * g + m + 96] = ((byte & 3) - 1) * scale;
    }
  return y;
}

/** Object.is elementwise (so −0 and NaN count), with the first difference in the message. */
function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).to.equal(want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
}

/** The input of the golden cases, as the C harness wrote it in float32: block 0 ((i mod 37) − 18)·0.013 with
 * x[200] − 0.9; block 1 a 32-bit LCG (s·1664525 + 1013904223, s0 = 12345) mapped to [−0.05, 0.05), its
 * elements 16..31 zero. */
function harnessInput(): Float32Array {
  const x = new Float32Array(512);
  for (let i = 0; i < 256; i++) x[i] = f(f(((i % 37) - 18) * f(0.013)) + (i === 200 ? f(-0.9) : 0));
  let s = 12345;
  for (let i = 256; i < 512; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = f(f(((s >>> 9) - (1 << 22)) / (1 << 22)) * f(0.05));
  }
  x.fill(0, 256 + 16, 256 + 32);
  return x;
}

// ---- random blocks: random bytes with finite fp16 scales where the type has them ----

const finiteF16 = fc.integer({ min: 0, max: 0xffff }).filter((h) => (h & 0x7c00) !== 0x7c00);

/** `count` blocks of `type` (1..3 by default) of random bytes, fp16 fields overwritten with finite values. */
function randomBlocks(type: Exclude<GgmlTypeName, 'I2_S' | 'BF16'>, min = 1, max = 3): fc.Arbitrary<{ bytes: Uint8Array; n: number }> {
  const c = GGML_CODECS[type];
  const f16At = { Q8_0: [0], Q4_0: [0], Q4_K: [0, 2], Q6_K: [208] }[type];
  return fc.integer({ min, max }).chain((nb) =>
    fc
      .tuple(fc.uint8Array({ minLength: nb * c.blockBytes, maxLength: nb * c.blockBytes }), fc.array(finiteF16, { minLength: nb * f16At.length, maxLength: nb * f16At.length }))
      .map(([bytes, hs]) => {
        for (let b = 0; b < nb; b++)
          f16At.forEach((at, i) => {
            bytes[b * c.blockBytes + at] = hs[b * f16At.length + i]! & 0xff;
            bytes[b * c.blockBytes + at + 1] = hs[b * f16At.length + i]! >> 8;
          });
        return { bytes, n: nb * c.blockSize };
      }),
  );
}

describe('quant/ggml types', () => {
  it('registers each type with the geometry of the GGUF type table (ggml-common.h block structs; I2_S: 128 codes in 32 bytes + a 32-byte tail)', () => {
    for (const name of ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'BF16', 'I2_S'] as const) {
      const c = GGML_CODECS[name];
      const t = ggmlTypeByName(name)!;
      expect([c.name, c.blockSize, c.blockBytes], name).to.deep.equal([name, t.blockSize, t.typeSize]);
      expect(c.byteLength(4 * c.blockSize), name).to.equal(4 * c.blockBytes + (t.tailBytes ?? 0));
      expect(ggmlCodec(name)).to.equal(c);
    }
    expect(GGML_CODECS.Q8_0.blockBytes).to.equal(2 + 32); // ggml_half d, int8 qs[32]
    expect(GGML_CODECS.Q4_0.blockBytes).to.equal(2 + 16); // d, qs[16]
    expect(GGML_CODECS.Q4_K.blockBytes).to.equal(2 + 2 + 12 + 128); // d, dmin, scales[K_SCALE_SIZE], qs[QK_K/2]
    expect(GGML_CODECS.Q6_K.blockBytes).to.equal(128 + 64 + 16 + 2); // ql[QK_K/2], qh[QK_K/4], scales[QK_K/16], d
    expect(GGML_CODECS.I2_S.byteLength(2560 * 2560)).to.equal((2560 * 2560) / 4 + 32);
    expect(ggmlCodec('q8_0')).to.equal(undefined); // exact names only
    expect(ggmlCodec('toString')).to.equal(undefined);
  });

  describe('Q8_0', () => {
    it('decodes a hand-made block: value = qs·d', () => {
      // d = 0.5 is fp16 0x3800 (exponent 14 − 15 = −1, mantissa 0): bytes 00 38. qs as int8.
      const b = new Uint8Array(34);
      putF16(b, 0, 0.5);
      expect(hex(b.subarray(0, 2))).to.equal('0038');
      const qs = [1, -2, 127, -128, 0, 5, -7, 100];
      qs.forEach((q, j) => (b[2 + j] = q & 0xff));
      const want = Array.from({ length: 32 }, (_, j) => (j < qs.length ? qs[j]! * 0.5 : 0)); // 0.5, −1, 63.5, −64, 0, 2.5, −3.5, 50
      expectSame(decode('Q8_0', b, 32), want, 'Q8_0 block');
    });

    it('quantizes as quantize_row_q8_0_ref (golden): d = amax/127, codes roundf(x/d), halves away from zero', () => {
      // amax = 127 → d = 1 (fp16 0x3c00), id = 1: codes are roundf(x): 2.5 → 3, −2.5 → −3, 0.5 → 1, −0.5 → −1
      // (round half away from zero, not to even), 1.49 → 1, −126.5 → −127.
      const x = new Float32Array(32);
      x.set([127, 2.5, -2.5, 0.5, -0.5, 1.49, -126.5, 0]);
      const b = quantizeRowQ8_0(x);
      expect(hex(b)).to.equal('003c' + '7f03fd01ff0181' + '00'.repeat(25));
      // amax = 16 → d = f32(16/127) = 0.12598425, id ≈ 127/16 = 7.9375: 15 → 119.06 → 119,
      // −16 → −127 (id = f32(1/d) is 7.9375 to within an ulp); d stored as fp16 0x3008 (0.125977: the nearest fp16 to 0.12598425).
      const y = new Float32Array(32).map((_, j) => j - 16);
      const q = quantizeRowQ8_0(y);
      expect(hex(q.subarray(0, 2))).to.equal('0830');
      expect(i8(q[2]!)).to.equal(-127);
      expect(i8(q[2 + 31]!)).to.equal(119);
      expect(Array.from(quantizeRowQ8_0(new Float32Array(32)))).to.deep.equal(new Array(34).fill(0)); // all zero: d = 0, id = 0
    });

    it('quantizes as llama.cpp\'s quantize_row_q8_0_ref, byte for byte (golden bytes from the C reference)', () => {
      // harnessInput()'s elements 256..319: two blocks, the first with its last 16 elements zero
      const want =
        '3d0e82810b236c9aff0d194a87407a9034f600000000000000000000000000000000' +
        '400ef6c913798149ccd1770c2c2920a77046f53bd4381445f1b3f52d0662e4703fa2';
      expect(hex(quantizeRowQ8_0(harnessInput().subarray(256, 320)))).to.equal(want);
    });

    it('round-trips within d/2 plus the fp16 rounding of d (property)', () => {
      fc.assert(
        fc.property(fc.float32Array({ minLength: 32, maxLength: 96, noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 }), (arr) => {
          const x = arr.subarray(0, arr.length - (arr.length % 32));
          const back = decode('Q8_0', quantizeRowQ8_0(x), x.length);
          for (let b = 0; b < x.length / 32; b++) {
            let amax = 0;
            for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]!));
            const d = f(amax / 127);
            const d16 = f16BitsToF32(f32ToF16Bits(d));
            for (let j = 0; j < 32; j++) expect(Math.abs(back[32 * b + j]! - x[32 * b + j]!)).to.be.at.most(d / 2 + 127 * Math.abs(d - d16) + 1e-6 * d);
          }
        }),
        { numRuns: 100 },
      );
    });

    it('random blocks decode to finite values with |v| ≤ 128·|d|, as ggml\'s loop (property)', () => {
      fc.assert(
        fc.property(randomBlocks('Q8_0'), ({ bytes, n }) => {
          const got = decode('Q8_0', bytes, n);
          expectSame(got, ggmlQ8_0(bytes, n), 'Q8_0');
          got.forEach((v, e) => expect(Number.isFinite(v) && Math.abs(v) <= 128 * Math.abs(h16(bytes, 34 * (e >> 5)))).to.equal(true));
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('Q4_0', () => {
    it('decodes a hand-made block: byte j holds element j (low nibble) and j + 16 (high), value (nibble − 8)·d', () => {
      // d = 2 → fp16 0x4000. Byte 2 + 0 = 0x9f: element 0 = (0xf − 8)·2 = 14, element 16 = (0x9 − 8)·2 = 2.
      // Byte 2 + 5 = 0x08: element 5 = (8 − 8)·2 = 0, element 21 = (0 − 8)·2 = −16. Other bytes 0x88: 0.
      const b = new Uint8Array(18).fill(0x88);
      putF16(b, 0, 2);
      b[2] = 0x9f;
      b[7] = 0x08;
      const want = new Array(32).fill(0);
      want[0] = 14;
      want[16] = 2;
      want[21] = -16;
      expectSame(decode('Q4_0', b, 32), want, 'Q4_0 block');
    });

    it('quantizes as quantize_row_q4_0_ref (golden): d = max/−8, nibble = min(15, trunc(x/d + 8.5))', () => {
      // max (largest magnitude, sign kept) = −8 → d = 1 (0x3c00), id = 1. nibble = min(15, trunc(x + 8.5)):
      // −8 → 0.5 → 0; 7 → 15.5 → 15; 7.6 → 16.1 → 16 → 15; −0.5 → 8 → 8; 0.49 → 8.99 → 8; 0.5 → 9; −0.51 → 7.99 → 7.
      const x = new Float32Array(32);
      x.set([-8, 7, 7.6, -0.5, 0.49, 0.5, -0.51]);
      const b = quantizeRowQ4_0(x);
      expect(hex(b.subarray(0, 2))).to.equal('003c');
      // elements 0..6 in the low nibbles; elements 16..31 are 0 → 8 in the high nibbles
      expect(hex(b.subarray(2, 9))).to.equal('80' + '8f' + '8f' + '88' + '88' + '89' + '87');
      expect(hex(b.subarray(9))).to.equal('88'.repeat(9));
    });

    it('round-trips within |d|/2 (|d| where ggml clamps the code 16 to 15) plus the fp16 rounding of d (property)', () => {
      fc.assert(
        fc.property(fc.float32Array({ minLength: 32, maxLength: 32, noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 }), (x) => {
          const bytes = quantizeRowQ4_0(x);
          const back = decode('Q4_0', bytes, 32);
          const d16 = h16(bytes, 0);
          let max = 0;
          for (const v of x) if (Math.abs(v) > Math.abs(max)) max = v;
          const d = f(max / -8);
          const id = d !== 0 ? f(1 / d) : 0;
          for (let j = 0; j < 32; j++) {
            const clamped = Math.trunc(f(f(x[j]! * id) + 8.5)) > 15; // x = −max: x/d = 8 has no code
            expect(Math.abs(back[j]! - x[j]!)).to.be.at.most((clamped ? 1 : 0.5) * Math.abs(d) + 8 * Math.abs(d - d16) + 1e-6 * Math.abs(d));
          }
        }),
        { numRuns: 100 },
      );
    });

    it('random blocks decode to finite values with value/d in [−8, 7], as ggml\'s loop (property)', () => {
      fc.assert(
        fc.property(randomBlocks('Q4_0'), ({ bytes, n }) => {
          const got = decode('Q4_0', bytes, n);
          expectSame(got, ggmlQ4_0(bytes, n), 'Q4_0');
          got.forEach((v, e) => {
            const d = h16(bytes, 18 * (e >> 5));
            expect(Number.isFinite(v)).to.equal(true);
            if (d !== 0) expect(v / d).to.be.within(-8, 7);
          });
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('Q4_K', () => {
    // One super-block built by hand: d = 1, dmin = 0.5, sub-block scales sc = 1..7, 63 and mins m = 0..3, 60..63.
    const sc = [1, 2, 3, 4, 5, 6, 7, 63];
    const m = [0, 1, 2, 3, 60, 61, 62, 63];
    function handBlock(): Uint8Array {
      const b = new Uint8Array(144);
      putF16(b, 0, 1); // 00 3c
      putF16(b, 2, 0.5); // 00 38
      // The 6-bit packing (get_scale_min_k4 read backwards):
      //   bytes 0–3:  sc_j | (sc_{j+4} >> 4) << 6  → 1, 2, 3, 4 | (63 >> 4 = 3) << 6 = 0xc4   (sc_4..6 < 16: top bits 0)
      //   bytes 4–7:  m_j | (m_{j+4} >> 4) << 6    → 0, 1, 2, 3 each | 3 << 6 (60..63 >> 4 = 3) = c0 c1 c2 c3
      //   bytes 8–11: (sc_{j+4} & 15) | (m_{j+4} & 15) << 4 → 5 | 12 << 4 = 0xc5, 6 | 13 << 4 = 0xd6, 0xe7, 0xff
      b.set([0x01, 0x02, 0x03, 0xc4, 0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xd6, 0xe7, 0xff], 4);
      // Codes q(e) = e mod 16: byte 16 + 32c + l holds element 64c + l (low nibble, = l mod 16) and 64c + 32 + l
      // (high nibble, also l mod 16), so every run of 16 bytes is 00 11 22 … ff.
      for (let c = 0; c < 4; c++) for (let l = 0; l < 32; l++) b[16 + 32 * c + l] = (l % 16) * 0x11;
      return b;
    }

    it('decodes a hand-made super-block: value = d·sc_j·q − dmin·m_j, the 6-bit scales and mins unpacked', () => {
      const b = handBlock();
      const got = decode('Q4_K', b, 256);
      // e.g. e = 33 (j = 1, q = 1): 1·2·1 − 0.5·1 = 1.5; e = 130 (j = 4, q = 2): 5·2 − 0.5·60 = −20;
      // e = 255 (j = 7, q = 15): 63·15 − 0.5·63 = 913.5
      expect([got[0], got[33], got[130], got[255]]).to.deep.equal([0, 1.5, -20, 913.5]);
      expectSame(got, Array.from({ length: 256 }, (_, e) => sc[e >> 5]! * (e % 16) - 0.5 * m[e >> 5]!), 'Q4_K block');
      expectSame(got, ggmlQ4_K(b, 256), 'Q4_K vs ggml loop');
    });

    it('random super-blocks decode to finite values within |d|·63·15 + |dmin|·63, as ggml\'s loop (property)', () => {
      fc.assert(
        fc.property(randomBlocks('Q4_K'), ({ bytes, n }) => {
          const got = decode('Q4_K', bytes, n);
          expectSame(got, ggmlQ4_K(bytes, n), 'Q4_K');
          got.forEach((v, e) => {
            const o = 144 * (e >> 8);
            expect(Number.isFinite(v)).to.equal(true);
            // (d·sc)·q − dmin·m rounds once in float32 (its subtraction): half an ulp over the exact bound
            expect(Math.abs(v)).to.be.at.most((Math.abs(h16(bytes, o)) * 945 + Math.abs(h16(bytes, o + 2)) * 63) * (1 + 2 ** -24));
          });
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('Q6_K', () => {
    // d = 0.25, scales[s] = s − 8 (−8..7), codes Q(e) = e mod 64 (q = Q − 32).
    function handBlock(): Uint8Array {
      const b = new Uint8Array(210);
      putF16(b, 208, 0.25); // 00 34
      for (let s = 0; s < 16; s++) b[192 + s] = (s - 8) & 0xff;
      for (let e = 0; e < 256; e++) {
        const h = e >> 7, k = (e >> 5) & 3, l = e & 31, Q = e % 64; // prettier-ignore
        b[64 * h + 32 * (k & 1) + l] |= (Q & 15) << (4 * (k >> 1));
        b[128 + 32 * h + l] |= (Q >> 4) << (2 * k);
      }
      return b;
    }

    it('packs ql/qh as the layout says (golden bytes) and decodes value = (d·scale)·(Q − 32)', () => {
      const b = handBlock();
      // ql[0]: element 0 (k = 0, Q = 0) low, element 64 (k = 2, Q = 0) high → 0x00; ql[1]: elements 1 and 65 (Q = 1) → 0x11;
      // ql[32]: elements 32 (k = 1, Q = 32 → low 4 bits 0) and 96 (Q = 32) → 0x00; ql[33]: Q = 33 → 0x11.
      // qh[0] (byte 128): elements 0, 32, 64, 96 with Q >> 4 = 0, 2, 0, 2 at bits 1–0, 3–2, 5–4, 7–6 → 0b10001000 = 0x88.
      // qh[17]: elements 17, 49, 81, 113: Q = 17, 49, 17, 49 → Q >> 4 = 1, 3, 1, 3 → 0b11011101 = 0xdd.
      expect([b[0], b[1], b[32], b[33], b[128], b[128 + 17]]).to.deep.equal([0x00, 0x11, 0x00, 0x11, 0x88, 0xdd]);
      expect(hex(b.subarray(192, 210))).to.equal('f8f9fafbfcfdfeff0001020304050607' + '0034');
      const got = decode('Q6_K', b, 256);
      // e = 0: 0.25·(−8)·(0 − 32) = 64; e = 255: 0.25·7·(63 − 32) = 54.25; e = 40 (scale 2 − 8 = −6, Q = 40): 0.25·(−6)·8 = −12
      expect([got[0], got[255], got[40]]).to.deep.equal([64, 54.25, -12]);
      expectSame(got, Array.from({ length: 256 }, (_, e) => 0.25 * ((e >> 4) - 8) * ((e % 64) - 32)), 'Q6_K block');
      expectSame(got, ggmlQ6_K(b, 256), 'Q6_K vs ggml loop');
    });

    it('keeps the sign of zero as ggml\'s (d·scale)·q does (q = 0 with a negative scale is −0)', () => {
      const b = handBlock();
      const got = decode('Q6_K', b, 256);
      expect(Object.is(got[32], -0)).to.equal(true); // scale 2 − 8 = −6 < 0, Q = 32: (0.25·−6)·0 = −0
    });

    it('quantizes a hand case as quantize_row_q6_K_ref: sixteen equal values → the code −32 and the scale −128 of d = ∓2^−12', () => {
      // Sub-block 0 all −1, the rest 0. make_qx_quants: max = −1, iscale = −32/−1 = 32, l = −32 (L = 0) for all,
      // Σ(w·x)·l = 16·32 = 512, Σ(w·l)·l = 16·1024, scale = 1/32; no other iscale does better (l stays −32 or
      // becomes −31: 496²/(16·961) = 16, not > 16). The zero sub-blocks have scale 0. Then iscale = −128/(1/32)
      // = −4096, d = fp16(−2^−12) = 0x8c00, scales[0] = −128 (0x80), dj = 2^−5, L = −1/2^−5 + 32 = 0. The zero
      // sub-blocks (dj = 0) keep make_qx_quants' L = 0. So every ql/qh byte is 0.
      const x = new Float32Array(256);
      x.fill(-1, 0, 16);
      const b = GGML_CODECS.Q6_K.quantizeRow!(x);
      expect(hex(b)).to.equal('00'.repeat(192) + '80' + '00'.repeat(15) + '008c');
      expectSame(decode('Q6_K', b, 256).subarray(0, 16), new Array(16).fill(-1), 'Q6_K hand case');
      // +1 instead: max = 1, scale −1/32, d = fp16(+2^−12) = 0x0c00, the same scale byte and codes
      x.fill(1, 0, 16);
      expect(hex(GGML_CODECS.Q6_K.quantizeRow!(x))).to.equal('00'.repeat(192) + '80' + '00'.repeat(15) + '000c');
      expect(Array.from(GGML_CODECS.Q6_K.quantizeRow!(new Float32Array(256)))).to.deep.equal(new Array(210).fill(0)); // all zero
    });

    it('quantizes as llama.cpp\'s quantize_row_q6_K_ref, byte for byte (golden bytes from the C reference, built without FMA)', () => {
      const x = harnessInput();
      const want =
        '10f2d4b5a7896b5d3e10f2d4b5a7896b0522508eabd90624518fbcda0735528098766543211ffddbbaa8866553311ffe0c2844607c98b4d0fc1834507c88a4c0b2c0cecbd9d7' +
        'e5e200fe0c0907151320766543211ffddbbaa8866553311ffedc05224e6b87a4c0ec0925426e8ba7c4e00fedcbaa88563513f1dfbd9b7a58360550404040404c0c0c0c0d3d3d' +
        '3d3d39f90e0e0e0d0909191915545454606060601e1e19191919191545546460606060609050505053434343030f0f0f0f0e3e3ee017210e21eb21e2192110218021e41b838b' +
        'f04043899b560083f63331b07ff4ad5d7020e030601090b080e07080d0a030e0fe52257e80f2d3845e131b2aa85aacf2632f5dc01afc64e69383fe6428c0ae5bc5651109856a' +
        '00ae1673814158aa6228302a1e9ccd52712966ec1c2dd6b44b71641c659107e7d0ea6607c3318e7a315e209586c80ccf97b537d789f411a211c224d4da7e330cc656fefb28cb' +
        'dbb03edd88d0580414c068cc88f454103890803ce4a3d991f29ec47cf1268a02e212acb230d65a052be8e042ba924551666dd6a878007a966094698089607f7985837b9bd200';
      expect(hex(GGML_CODECS.Q6_K.quantizeRow!(x))).to.equal(want);
    });

    it('round-trips within half a sub-block step plus the fp16 rounding of d (property)', () => {
      fc.assert(
        fc.property(fc.float32Array({ minLength: 256, maxLength: 256, noNaN: true, noDefaultInfinity: true, min: -100, max: 100 }), (x) => {
          const b = GGML_CODECS.Q6_K.quantizeRow!(x);
          const back = decode('Q6_K', b, 256);
          const d = h16(b, 208);
          for (let j = 0; j < 16; j++) {
            const dj = Math.abs(d * i8(b[192 + j]!));
            let amax = 0;
            for (let i = 16 * j; i < 16 * j + 16; i++) amax = Math.max(amax, Math.abs(x[i]!));
            // codes −32..31: a value beyond 31.5·dj (the sub-block's positive extreme) is clamped; scales
            // clamp at 127; so bound the error by the larger of half a step and the clamp's shortfall
            for (let i = 16 * j; i < 16 * j + 16; i++) expect(Math.abs(back[i]! - x[i]!)).to.be.at.most(Math.max(dj / 2, amax - 31 * dj) * 1.001 + 1e-6 * amax + 1e-30);
          }
        }),
        { numRuns: 60 },
      );
    });

    it('random super-blocks decode to finite values within |d|·128·32, as ggml\'s loop (property)', () => {
      fc.assert(
        fc.property(randomBlocks('Q6_K'), ({ bytes, n }) => {
          const got = decode('Q6_K', bytes, n);
          expectSame(got, ggmlQ6_K(bytes, n), 'Q6_K');
          got.forEach((v, e) => expect(Number.isFinite(v) && Math.abs(v) <= Math.abs(h16(bytes, 210 * (e >> 8) + 208)) * 4096).to.equal(true));
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('BF16', () => {
    it('decodes bit patterns as the top half of a float32 (specials, subnormals, −0)', () => {
      const bits = [0x3f80, 0xc000, 0x7f80, 0xff80, 0x0001, 0x8000, 0x4049, 0x7fc1];
      const b = new Uint8Array(bits.flatMap((h) => [h & 0xff, h >> 8]));
      const got = decode('BF16', b, bits.length);
      // 1, −2, +inf, −inf, 2^−133 (the smallest subnormal: 2^−126·2^−7), −0, 3.140625 (0x40490000), NaN
      expect(Array.from(got.subarray(0, 7))).to.deep.equal([1, -2, Infinity, -Infinity, 2 ** -133, -0, 3.140625]);
      expect(Object.is(got[5], -0)).to.equal(true);
      expect(new Uint32Array(got.buffer)[7]).to.equal(0x7fc10000); // the NaN's payload kept
      expect(bf16BitsToF32(0x4049)).to.equal(3.140625);
    });

    it('rounds float32 to bf16 as ggml_compute_fp32_to_bf16 (golden): nearest even, NaN made quiet', () => {
      // 1 + 2^−8 is halfway between 0x3f80 (1) and 0x3f81 (1 + 2^−7): even → 0x3f80; 1 + 3·2^−8 → 0x3f82 (even).
      expect(f32ToBf16Bits(1 + 2 ** -8)).to.equal(0x3f80);
      expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).to.equal(0x3f82);
      expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).to.equal(0x3f81); // just above the half: up
      expect(f32ToBf16Bits(-3.14159)).to.equal(0xc049);
      expect(f32ToBf16Bits(3.4028234663852886e38)).to.equal(0x7f80); // FLT_MAX rounds up to +inf (a carry into the exponent)
      const u = new Uint32Array([0x7f800001]); // a signalling NaN: (bits >> 16) | 0x40
      expect(f32ToBf16Bits(new Float32Array(u.buffer)[0]!)).to.equal(0x7fc0);
      expect(hex(GGML_CODECS.BF16.quantizeRow!(new Float32Array([1, -2])))).to.equal('803f00c0');
    });

    it('round-trips: bf16 → f32 → bf16 is the identity on non-NaN patterns, and f32 → bf16 is within half a bf16 ulp (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffff }), fc.float({ noNaN: true, noDefaultInfinity: true, min: f(-1e30), max: f(1e30) }), (h, x) => {
          if ((h & 0x7fff) <= 0x7f80) expect(f32ToBf16Bits(bf16BitsToF32(h))).to.equal(h);
          const back = bf16BitsToF32(f32ToBf16Bits(x));
          expect(Math.abs(back - x)).to.be.at.most(Math.abs(x) * 2 ** -8 + 2 ** -133);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('I2_S (bitnet.cpp)', () => {
    it('packs a hand-made block: byte m holds elements m, m+32, m+64, m+96 in bits 7–6 … 1–0, code t + 1, the float32 scale after the codes', () => {
      const codes = new Int8Array(128);
      codes[0] = 1; // byte 0 bits 7–6 = 10 → 10 01 01 01 = 0x95
      codes[33] = -1; // byte 1 bits 5–4 = 00 → 01 00 01 01 = 0x45
      codes[127] = 1; // element 96 + 31: byte 31 bits 1–0 = 10 → 01 01 01 10 = 0x56
      const b = packI2_S(codes, 0.5);
      expect(b.length).to.equal(128 / 4 + 32);
      // every other byte: four zeros (code 1) = 01 01 01 01 = 0x55; scale 0.5 = 0x3f000000 little-endian, then 28 zero bytes
      expect(hex(b)).to.equal('9545' + '55'.repeat(29) + '56' + '0000003f' + '00'.repeat(28));
      const want = Array.from(codes, (t) => t * 0.5);
      expectSame(decode('I2_S', b, 128), want, 'I2_S block');
      expect(i2sScale(b, 128)).to.equal(0.5);
    });

    it('quantizes as bitnet.cpp\'s quantize_i2_s: scale = max|x|, |x| < 1e-6 → 0, else the sign', () => {
      const x = new Float32Array(256);
      x[0] = 0.3;
      x[1] = -0.3;
      x[2] = 5e-7; // below 1e-6: a zero code
      x[200] = -0.25; // still −1: the converter's input is already ternary (±β), the sign is all that is kept
      const b = quantizeI2_S(x);
      expect(i2sScale(b, 256)).to.equal(Math.fround(0.3));
      const back = decode('I2_S', b, 256);
      expect([back[0], back[1], back[2], back[200], back[3]]).to.deep.equal([f(0.3), -f(0.3), 0, -f(0.3), 0]);
    });

    it('round-trips codes and scale and agrees with a decoder in bitnet.cpp\'s GEMV order (property)', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 3 }).chain((g) => fc.int8Array({ minLength: 128 * g, maxLength: 128 * g, min: -1, max: 1 })),
          fc.float({ noNaN: true, noDefaultInfinity: true }),
          (codes, scale) => {
            const b = packI2_S(codes, scale);
            const got = decode('I2_S', b, codes.length);
            expectSame(got, bitnetI2_S(b, codes.length), 'I2_S');
            expectSame(got, Array.from(codes, (t) => t * f(scale)), 'I2_S values');
            for (const v of got) expect([0, f(scale), -f(scale)].includes(v)).to.equal(true);
          },
        ),
        { numRuns: 60 },
      );
    });

    it('rejects the unused code 3 and codes outside −1..1', () => {
      const b = packI2_S(new Int8Array(128), 1);
      b[7] = 0xff;
      expect(() => decode('I2_S', b, 128)).to.throw(RangeError, /code 3/);
      expect(() => packI2_S(new Int8Array(128).fill(2), 1)).to.throw(RangeError, /outside/);
    });
  });

  describe('rejection of wrong lengths (RangeError) and wrong types (TypeError)', () => {
    for (const name of ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'BF16', 'I2_S'] as const)
      it(`${name}`, () => {
        const c = GGML_CODECS[name];
        const n = 2 * c.blockSize;
        const ok = new Uint8Array(c.byteLength(n));
        if (name === 'I2_S') ok.fill(0x55);
        expect(() => c.dequantizeRow(ok, n, new Float32Array(n))).to.not.throw();
        expect(() => c.dequantizeRow(ok.subarray(1), n, new Float32Array(n)), 'short bytes').to.throw(RangeError, /bytes/);
        expect(() => c.dequantizeRow(new Uint8Array(ok.length + 1), n, new Float32Array(n)), 'long bytes').to.throw(RangeError);
        expect(() => c.dequantizeRow(ok, n, new Float32Array(n - 1)), 'out').to.throw(RangeError, /out/);
        expect(() => c.dequantizeRow(ok, -c.blockSize, new Float32Array(0)), 'negative n').to.throw(RangeError);
        expect(() => c.dequantizeRow(ok, n + 0.5, new Float32Array(n)), 'fractional n').to.throw(RangeError);
        expect(() => c.dequantizeRow(ok, n, new Float64Array(n) as unknown as Float32Array), 'out type').to.throw(TypeError);
        expect(() => c.dequantizeRow(Array.from(ok) as unknown as Uint8Array, n, new Float32Array(n)), 'bytes type').to.throw(TypeError);
        if (c.blockSize > 1) {
          expect(() => c.dequantizeRow(ok, n - 1, new Float32Array(n - 1)), 'n not whole blocks').to.throw(RangeError, /multiple of the block size/);
          expect(() => c.byteLength(c.blockSize + 1)).to.throw(RangeError);
        }
        if (c.quantizeRow && name !== 'BF16') {
          expect(() => c.quantizeRow!(new Float32Array(c.blockSize + 1)), 'quantize: not whole blocks').to.throw(RangeError);
          expect(() => c.quantizeRow!(new Float32Array(c.blockSize).fill(Number.NaN)), 'quantize: NaN').to.throw(RangeError, /finite/);
        }
        expect(() => c.dequantizeRow(new Uint8Array(c.byteLength(0)), 0, new Float32Array(0)), 'zero elements').to.not.throw(); // I2_S: the 32-byte tail still
      });
  });
});
