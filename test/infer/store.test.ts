// The engine's weight memory (src/infer/store.ts): aligned, zeroed, non-overlapping views, native and JS.
import { expect } from 'chai';
import { jsStore, STORE_ALIGN, WeightStore, weightStore } from '../../src/infer/store.ts';
import { nativeAddon } from '../../src/native/addon.ts';

describe('infer/store', () => {
  const stores: Array<['js' | 'native', () => WeightStore, (n: number) => ArrayBuffer]> = [['js', jsStore, (n) => new ArrayBuffer(n)]];
  if (nativeAddon() !== null) stores.push(['native', weightStore, (n) => nativeAddon()!.allocAligned(n, true)]);

  for (const [name, make, alloc] of stores)
    describe(`${name} store`, () => {
      it('hands out zeroed views at 64-byte offsets that never overlap', () => {
        const s = make();
        const sizes = [1, 63, 64, 65, 1000, 3, 4096, 17];
        const views = sizes.map((n) => s.bytes(n));
        views.forEach((v, i) => {
          expect(v.length).to.equal(sizes[i]);
          expect(v.byteOffset % STORE_ALIGN).to.equal(0);
          expect(v.every((b) => b === 0)).to.equal(true);
          v.fill(i + 1);
        });
        views.forEach((v, i) => expect(v.every((b) => b === i + 1), `view ${i} was overwritten`).to.equal(true));
        expect(s.allocated).to.equal(sizes.reduce((a, n) => a + Math.ceil(n / 64) * 64, 0));
      });

      it('typed views (u16, f32) share the alignment; requests beyond a quarter slab get their own buffer', () => {
        const s = new WeightStore(name, alloc, 1 << 12); // 4 KB slabs
        const a = s.f32(10);
        const b = s.u16(3);
        expect(a.byteOffset % 64).to.equal(0);
        expect(b.byteOffset % 64).to.equal(0);
        expect(a.buffer).to.equal(b.buffer);
        const big = s.bytes(5000);
        expect(big.buffer).to.not.equal(a.buffer);
        expect(big.byteOffset).to.equal(0);
        expect(() => s.bytes(-1)).to.throw(RangeError);
        expect(() => s.bytes(1.5)).to.throw(RangeError);
      });
    });

  if (nativeAddon() !== null)
    it('native allocAligned: a zeroed buffer of the exact size; bad sizes are a RangeError', () => {
      const a = nativeAddon()!;
      const buf = a.allocAligned(100_000, true);
      expect(buf.byteLength).to.equal(100_000);
      expect(new Uint8Array(buf).every((b) => b === 0)).to.equal(true);
      expect(() => a.allocAligned(-1, true)).to.throw(RangeError);
      expect(() => a.allocAligned(2 ** 40, false)).to.throw(RangeError);
      expect(() => a.allocAligned(10, 1 as unknown as boolean)).to.throw(TypeError);
    });
});
