import { expect } from 'chai';
import { mixSeed, Rng } from '../../src/data/rng.ts';

describe('data/rng', () => {
  it('is deterministic and resumes from its state', () => {
    const a = new Rng(42);
    for (let i = 0; i < 10; i++) a.nextU32();
    const b = new Rng(a.state());
    for (let i = 0; i < 100; i++) expect(b.nextU32()).to.equal(a.nextU32());
  });

  it('gives different streams for different seeds and keys', () => {
    expect(new Rng(1).nextU32()).to.not.equal(new Rng(2).nextU32());
    expect(mixSeed(7, 0)).to.not.equal(mixSeed(7, 1));
    expect(mixSeed(7, 1)).to.equal(mixSeed(7, 1));
  });

  it('draws integers in range and normals with about unit variance', () => {
    const r = new Rng(3);
    let s = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const k = r.int(7);
      expect(k).to.be.within(0, 6);
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).to.be.below(0.05);
    expect(Math.abs(s2 / n - 1)).to.be.below(0.05);
  });
});
