import { expect } from 'chai';
import { TERNARY_CODECS } from '../../src/quant/codecs.ts';
import { f16BitsToF32 } from '../../src/quant/fp16.ts';
import { packTQ1_0, tq1Trit, unpackTQ1_0 } from '../../src/quant/tq1_0.ts';
import { checkRoundTrip, hex } from './support.ts';

/** llama.cpp's dequantize_row_tq1_0 loops, transcribed in their own output order: a second decoder. */
function ggmlDequantTQ1_0(bytes: Uint8Array, nBlocks: number): number[] {
  const pow3 = [1, 3, 9, 27, 81, 243];
  const y: number[] = [];
  const trit = (b: number, n: number) => ((((b * pow3[n]!) & 0xff) * 3) >> 8) - 1;
  for (let i = 0; i < nBlocks; i++) {
    const blk = bytes.subarray(i * 54, (i + 1) * 54);
    const d = f16BitsToF32(blk[52]! | (blk[53]! << 8));
    for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) y.push(trit(blk[m]!, n) * d);
    for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) y.push(trit(blk[32 + m]!, n) * d);
    for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) y.push(trit(blk[48 + j]!, n) * d);
  }
  return y;
}

describe('quant/tq1_0', () => {
  it('packs hand-computed golden blocks byte for byte', () => {
    // All zeros (trit 1 everywhere): qs q = 11111₃ = 81+27+9+3+1 = 121, stored ceil(121·256/243) =
    // ceil(127.47) = 128 = 0x80; qh q = 1111₃ · 3 = 40 · 3 = 120 → ceil(126.42) = 127 = 0x7f; d = 0.
    expect(hex(packTQ1_0(new Int8Array(256), new Float32Array([0])))).to.equal('80'.repeat(48) + '7f'.repeat(4) + '0000');
    // All +1 (trit 2): qs 22222₃ = 242 → ceil(254.95) = 255; qh 2222₃ · 3 = 240 → ceil(252.84) = 253 = 0xfd; d = 1 → 00 3c.
    expect(hex(packTQ1_0(new Int8Array(256).fill(1), new Float32Array([1])))).to.equal('ff'.repeat(48) + 'fd'.repeat(4) + '003c');
    // All −1 (trit 0): q = 0 → 0; d = 2 → 00 40.
    expect(hex(packTQ1_0(new Int8Array(256).fill(-1), new Float32Array([2])))).to.equal('00'.repeat(52) + '0040');
  });

  it('places single elements where the layout says (golden)', () => {
    // Background trit 1 as above (0x80 in qs, 0x7f in qh), then:
    // element 0 = +1: qs[0], first (most significant) trit: 21111₃ = 162+27+9+3+1 = 202 → ceil(212.81) = 213 = 0xd5
    // element 33 = +1: 33 = 1 + 32·1 → qs[1], second trit: 12111₃ = 81+54+9+3+1 = 148 → ceil(155.92) = 156 = 0x9c
    // element 170 = −1: 170 = 160 + 10 + 16·0 → qs[32 + 10] = byte 42, first trit: 01111₃ = 40 → ceil(42.14) = 43 = 0x2b
    // element 255 = −1: 255 = 240 + 3 + 4·3 → qh[3] = byte 51, fourth trit: 1110₃ = 39, ·3 = 117 → ceil(123.26) = 124 = 0x7c
    // d = 0.1 → fp16 0x2e66 → 66 2e
    const codes = new Int8Array(256);
    codes[0] = 1;
    codes[33] = 1;
    codes[170] = -1;
    codes[255] = -1;
    const want = 'd5' + '9c' + '80'.repeat(40) + '2b' + '80'.repeat(5) + '7f7f7f' + '7c' + '662e';
    expect(hex(packTQ1_0(codes, new Float32Array([0.1])))).to.equal(want);
  });

  it('packs a ramp (golden): codes c_i = i mod 3', () => {
    // qs[m], m < 32: trit n is c at m + 32n, 32 ≡ 2 (mod 3): (m + 2n) mod 3
    //   m ≡ 0: 02102₃ = 54+9+2 = 65 → ceil(68.48) = 69 = 0x45
    //   m ≡ 1: 10210₃ = 81+18+3 = 102 → ceil(107.46) = 108 = 0x6c
    //   m ≡ 2: 21021₃ = 162+27+6+1 = 196 → ceil(206.49) = 207 = 0xcf
    // qs[32 + m], m < 16: c at 160 + m + 16n, 160 ≡ 1, 16 ≡ 1: (1 + m + n) mod 3
    //   m ≡ 0: 12012₃ = 81+54+3+2 = 140 → ceil(147.49) = 148 = 0x94
    //   m ≡ 1: 20120₃ = 162+9+6 = 177 → ceil(186.47) = 187 = 0xbb
    //   m ≡ 2: 01201₃ = 27+18+1 = 46 → ceil(48.46) = 49 = 0x31
    // qh[j]: c at 240 + j + 4n, 240 ≡ 0, 4 ≡ 1: (j + n) mod 3, then ·3
    //   j = 0, 3: 0120₃ = 15, ·3 = 45 → ceil(47.41) = 48 = 0x30
    //   j = 1: 1201₃ = 46, ·3 = 138 → ceil(145.38) = 146 = 0x92
    //   j = 2: 2012₃ = 59, ·3 = 177 → 187 = 0xbb
    // d = 0.5 → 00 38
    const codes = new Int8Array(256).map((_, i) => (i % 3) - 1);
    const want =
      '456ccf456ccf456ccf456ccf456ccf456ccf456ccf456ccf456ccf456ccf456c' +
      '94bb3194bb3194bb3194bb3194bb3194' +
      '3092bb30' +
      '0038';
    const bytes = packTQ1_0(codes, new Float32Array([0.5]));
    expect(hex(bytes)).to.equal(want);
    expect(ggmlDequantTQ1_0(bytes, 1)).to.deep.equal(Array.from(codes, (c) => c * 0.5));
  });

  it('decodes every one of the 243 five-trit values from its stored byte', () => {
    for (let q = 0; q < 243; q++) {
      const byte = Math.ceil((q * 256) / 243);
      let back = 0;
      for (let n = 0; n < 5; n++) back = back * 3 + tq1Trit(byte, n);
      expect(back, `q=${q} byte=${byte}`).to.equal(q);
    }
  });

  it('round-trips codes exactly and d through fp16, and agrees with the ggml-ordered decoder', () => {
    checkRoundTrip(TERNARY_CODECS.TQ1_0, ggmlDequantTQ1_0, (bytes, nBlocks) => {
      for (let b = 0; b < nBlocks; b++)
        for (const qh of bytes.subarray(b * 54 + 48, b * 54 + 52)) expect(tq1Trit(qh, 4), 'qh keeps its lowest trit 0').to.equal(0);
    });
  });

  it('rejects bad lengths and codes out of range', () => {
    expect(() => packTQ1_0(new Int8Array(255), new Float32Array(1))).to.throw(RangeError, /not a multiple of 256/);
    const bad = new Int8Array(256);
    bad[255] = -2;
    expect(() => packTQ1_0(bad, new Float32Array(1))).to.throw(RangeError, /codes\[255\] = -2 is outside/);
    expect(() => unpackTQ1_0(new Uint8Array(108), 1)).to.throw(RangeError, /1 blocks take 54 bytes, got 108/);
    expect(() => unpackTQ1_0(new Uint8Array(54), 1.5)).to.throw(RangeError, /nBlocks must be a non-negative integer/);
  });
});
