// Shared by the packer tests: hex dumps, random ternary blocks and the round-trip property.
import { expect } from 'chai';
import fc from 'fast-check';
import type { TernaryCodec } from '../../src/quant/codecs.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/quant/fp16.ts';

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** 1 to 3 blocks of random ternary codes with one finite d per block (any float32 that fp16 holds as a finite value, rounded to fp16 on packing). */
export const ternaryBlocks = fc.integer({ min: 1, max: 3 }).chain((n) =>
  fc.record({
    codes: fc.int8Array({ minLength: 256 * n, maxLength: 256 * n, min: -1, max: 1 }),
    d: fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true, min: -65504, max: 65504 }),
  }),
);

/**
 * Packs random blocks with `codec` and checks: the length, codes back exactly, d back as its fp16
 * value, `extra` on the bytes, and that `ggmlDecode` (llama.cpp's dequantizer loop, transcribed in the
 * test) gives code · d for every weight.
 */
export function checkRoundTrip(codec: TernaryCodec, ggmlDecode: (bytes: Uint8Array, nBlocks: number) => number[], extra: (bytes: Uint8Array, nBlocks: number) => void): void {
  fc.assert(
    fc.property(ternaryBlocks, ({ codes, d }) => {
      const bytes = codec.pack(codes, d);
      expect(bytes.length).to.equal(d.length * codec.blockBytes);
      extra(bytes, d.length);
      const back = codec.unpack(bytes, d.length);
      expect(back.codes).to.deep.equal(codes);
      const dh = Array.from(d, (x) => f16BitsToF32(f32ToF16Bits(x)));
      expect(Array.from(back.d)).to.deep.equal(dh);
      expect(ggmlDecode(bytes, d.length)).to.deep.equal(Array.from(codes, (c, i) => c * dh[Math.floor(i / 256)]!));
    }),
    { numRuns: 50 },
  );
}
