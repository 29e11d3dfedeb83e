import { expect } from 'chai';
import { TERNARY_CODECS } from '../../src/quant/codecs.ts';
import { f16BitsToF32 } from '../../src/quant/fp16.ts';
import { packTQ2_0, unpackTQ2_0 } from '../../src/quant/tq2_0.ts';
import { checkRoundTrip, hex } from './support.ts';

/** llama.cpp's dequantize_row_tq2_0 loop, transcribed in its own output order: a second decoder. */
function ggmlDequantTQ2_0(bytes: Uint8Array, nBlocks: number): number[] {
  const y: number[] = [];
  for (let i = 0; i < nBlocks; i++) {
    const blk = bytes.subarray(i * 66, (i + 1) * 66);
    const d = f16BitsToF32(blk[64]! | (blk[65]! << 8));
    for (let j = 0; j < 64; j += 32)
      for (let l = 0; l < 4; l++) for (let m = 0; m < 32; m++) y.push((((blk[j + m]! >> (l * 2)) & 3) - 1) * d);
  }
  return y;
}

describe('quant/tq2_0', () => {
  it('packs hand-computed golden blocks byte for byte', () => {
    // All zeros (c = 1 everywhere): each byte is 01 01 01 01 = 0x55; d = 0 → fp16 0x0000.
    expect(hex(packTQ2_0(new Int8Array(256), new Float32Array([0])))).to.equal('55'.repeat(64) + '0000');
    // All +1 (c = 2): 10 10 10 10 = 0xaa; d = 1 → fp16 0x3c00, little-endian 00 3c.
    expect(hex(packTQ2_0(new Int8Array(256).fill(1), new Float32Array([1])))).to.equal('aa'.repeat(64) + '003c');
    // All −1 (c = 0): 0x00; d = 2 → 0x4000 → 00 40.
    expect(hex(packTQ2_0(new Int8Array(256).fill(-1), new Float32Array([2])))).to.equal('00'.repeat(64) + '0040');
  });

  it('places single elements where the layout says (golden)', () => {
    // Element 5 = −1: half 0, m = 5, k = 0 → byte 5 bits 1–0 = 00 → 01 01 01 00 = 0x54.
    // Element 200 = +1: half 1 (200 − 128 = 72 = 8 + 32·2) → byte 32 + 8 = 40, bits 5–4 = 10 → 01 10 01 01 = 0x65.
    // d = 0.1 → fp16 0x2e66 (1.6·2^-4: exponent 11, mantissa round(0.6·1024) = 614 = 0x266) → 66 2e.
    const codes = new Int8Array(256);
    codes[5] = -1;
    codes[200] = 1;
    const want = '55'.repeat(5) + '54' + '55'.repeat(34) + '65' + '55'.repeat(23) + '662e';
    expect(hex(packTQ2_0(codes, new Float32Array([0.1])))).to.equal(want);
  });

  it('packs a ramp (golden): codes c_i = i mod 3', () => {
    // Byte 32h + m holds c at 128h + m + 32k, k = 0..3. Since 32 ≡ 2 and 128 ≡ 2 (mod 3),
    // c_k = (2h + m + 2k) mod 3, a period of 3 in m:
    //   2h + m ≡ 0: c = 0, 2, 1, 0 → 0 + 2·4 + 1·16 + 0·64 = 24  = 0x18
    //   2h + m ≡ 1: c = 1, 0, 2, 1 → 1 + 0   + 2·16 + 1·64 = 97  = 0x61
    //   2h + m ≡ 2: c = 2, 1, 0, 2 → 2 + 1·4 + 0    + 2·64 = 134 = 0x86
    // Half 0 starts at m ≡ 0 (18 61 86 …), half 1 at 2h ≡ 2 (86 18 61 …); 32 bytes = 10 periods + 2.
    // d = 0.5 → fp16 0x3800 → 00 38.
    const codes = new Int8Array(256).map((_, i) => (i % 3) - 1);
    const want =
      '18618618618618618618618618618618' +
      '61861861861861861861861861861861' +
      '86186186186186186186186186186186' +
      '18618618618618618618618618618618' +
      '0038';
    expect(hex(packTQ2_0(codes, new Float32Array([0.5])))).to.equal(want);
    expect(ggmlDequantTQ2_0(packTQ2_0(codes, new Float32Array([0.5])), 1)).to.deep.equal(Array.from(codes, (c) => c * 0.5));
  });

  it('round-trips codes exactly and d through fp16, and agrees with the ggml-ordered decoder', () => {
    checkRoundTrip(TERNARY_CODECS.TQ2_0, ggmlDequantTQ2_0, (bytes, nBlocks) => {
      for (let b = 0; b < nBlocks; b++)
        for (const byte of bytes.subarray(b * 66, b * 66 + 64)) for (let k = 0; k < 8; k += 2) expect((byte >> k) & 3).to.be.at.most(2);
    });
  });

  it('rejects bad lengths, codes out of range and the unused code 3', () => {
    expect(() => packTQ2_0(new Int8Array(100), new Float32Array(1))).to.throw(RangeError, /codes.length 100 is not a multiple of 256/);
    expect(() => packTQ2_0(new Int8Array(512), new Float32Array(1))).to.throw(RangeError, /2 blocks need 2 scales d, got 1/);
    const bad = new Int8Array(256);
    bad[7] = 2;
    expect(() => packTQ2_0(bad, new Float32Array(1))).to.throw(RangeError, /codes\[7\] = 2 is outside/);
    expect(() => packTQ2_0(new Int8Array(256), new Float32Array([65520]))).to.throw(RangeError, /d\[0\] = 65520 has no finite fp16 value/);
    expect(() => packTQ2_0(new Int8Array(256), new Float32Array([NaN]))).to.throw(RangeError, /d\[0\] = NaN/);
    expect(() => unpackTQ2_0(new Uint8Array(65), 1)).to.throw(RangeError, /1 blocks take 66 bytes, got 65/);
    const three = packTQ2_0(new Int8Array(256), new Float32Array([1]));
    three[9] = 0x57; // bits 1–0 = 11
    expect(() => unpackTQ2_0(three, 1)).to.throw(RangeError, /block 0 byte 9 holds the unused 2-bit code 3/);
  });
});
