// Sampler properties on small logit vectors: greedy, temperature, top-k, top-p, repetition penalty, seeds.
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { applyRepetitionPenalty, argmax, candidates, draw, Sampler, samplerScratch, type SamplerParams } from '../../src/infer/sampler.ts';

const params = (p: Partial<SamplerParams>): SamplerParams => ({ temperature: 1, topK: 0, topP: 1, repeatPenalty: 1, repeatLastN: 64, ...p });
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

function randomLogits(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * 2);
}

describe('infer/sampler', () => {
  it('greedy (temperature 0) is the argmax whatever the seed, the lowest id on ties', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 20; trial++) {
      const l = randomLogits(rng, 50);
      const want = argmax(l);
      expect(new Sampler(50, params({ temperature: 0 }), trial).sample(l.slice())).to.equal(want);
      for (let i = 0; i < 50; i++) expect(l[i]!).to.be.at.most(l[want]!);
    }
    expect(argmax(Float32Array.of(1, 3, 3, 2))).to.equal(1);
  });

  it('top-k = 1 is greedy at any temperature; top-k keeps only the k most likely', () => {
    const rng = new Rng(2);
    const l = randomLogits(rng, 40);
    const order = Array.from(l.keys()).sort((a, b) => l[b]! - l[a]!);
    const s1 = new Sampler(40, params({ temperature: 5, topK: 1 }), 3);
    for (let i = 0; i < 50; i++) expect(s1.sample(l.slice())).to.equal(order[0]);
    const top5 = new Set(order.slice(0, 5));
    const s5 = new Sampler(40, params({ temperature: 3, topK: 5 }), 4);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(s5.sample(l.slice()));
    expect([...seen].every((t) => top5.has(t))).to.equal(true);
    expect(seen.size).to.equal(5); // at temperature 3 all five come up
  });

  it('candidates are sorted most likely first with probabilities ∝ exp(logit / T) summing to 1', () => {
    const rng = new Rng(5);
    const l = randomLogits(rng, 30);
    const s = samplerScratch(30);
    for (const T of [0.5, 1, 2]) {
      const n = candidates(l, { temperature: T, topK: 0, topP: 1 }, s);
      expect(n).to.equal(30);
      let z = 0;
      for (const v of l) z += Math.exp(v / T);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (i > 0) expect(l[s.ids[i]!]!).to.be.at.most(l[s.ids[i - 1]!]!);
        expect(s.probs[i]!).to.be.closeTo(Math.exp(l[s.ids[i]!]! / T) / z, 1e-12);
        sum += s.probs[i]!;
      }
      expect(sum).to.be.closeTo(1, 1e-12);
    }
  });

  it('top-p keeps the smallest most-likely prefix that reaches p, renormalized', () => {
    const l = logitsOf([0.05, 0.5, 0.15, 0.3]);
    const s = samplerScratch(4);
    const cases: Array<[number, number[]]> = [[0.4, [1]], [0.75, [1, 3]], [0.85, [1, 3, 2]], [0.99, [1, 3, 2, 0]], [1, [1, 3, 2, 0]]];
    for (const [p, want] of cases) {
      const n = candidates(l, { temperature: 1, topK: 0, topP: p }, s);
      expect([...s.ids.subarray(0, n)], `top-p ${p}`).to.deep.equal(want);
      const kept = want.map((i) => [0.05, 0.5, 0.15, 0.3][i]!).reduce((a, b) => a + b, 0);
      expect(s.probs[0]!).to.be.closeTo(0.5 / kept, 1e-6);
    }
    // top-k then top-p: k = 2 leaves {0.5, 0.3} → renormalized 0.625, 0.375; p = 0.6 keeps the first
    expect(candidates(l, { temperature: 1, topK: 2, topP: 0.6 }, s)).to.equal(1);
  });

  it('draws with the candidate frequencies', () => {
    const probs = [0.1, 0.4, 0.2, 0.3];
    const sampler = new Sampler(4, params({}), 11);
    const counts = [0, 0, 0, 0];
    const N = 20000;
    for (let i = 0; i < N; i++) counts[sampler.sample(logitsOf(probs))]!++;
    counts.forEach((c, i) => expect(c / N, `token ${i}`).to.be.closeTo(probs[i]!, 0.015));
    const s = samplerScratch(4);
    const n = candidates(logitsOf(probs), { temperature: 1, topK: 0, topP: 1 }, s);
    expect(draw(s, n, 0)).to.equal(1);
    expect(draw(s, n, 0.999999)).to.equal(0);
  });

  it('the same seed gives the same tokens; another seed other tokens', () => {
    const rng = new Rng(7);
    const ls = Array.from({ length: 40 }, () => randomLogits(rng, 100));
    const run = (seed: number) => {
      const s = new Sampler(100, params({ temperature: 1.5 }), seed);
      return ls.map((l) => s.sample(l.slice()));
    };
    expect(run(42)).to.deep.equal(run(42));
    expect(run(43)).to.not.deep.equal(run(42));
  });

  it('repetition penalty divides positive and multiplies negative logits of recent tokens, once each', () => {
    const l = Float32Array.of(2, -1, 4, 0.5, -3);
    applyRepetitionPenalty(l, [0, 1, 0, 4, 1], 2, 64);
    expect([...l]).to.deep.equal([1, -2, 4, 0.5, -6]);
    const m = Float32Array.of(2, -1, 4, 0.5, -3);
    applyRepetitionPenalty(m, [0, 1, 2, 3], 2, 2); // only the last two: 2 and 3
    expect([...m]).to.deep.equal([2, -1, 2, 0.25, -3]);
    // enough penalty turns greedy away from a repeated token
    const s = new Sampler(3, params({ temperature: 0, repeatPenalty: 3 }), 1);
    expect(s.sample(Float32Array.of(3, 2, 0), [0])).to.equal(1);
  });

  it('refuses out-of-range parameters', () => {
    for (const p of [{ temperature: -1 }, { topK: 1.5 }, { topP: 0 }, { topP: 1.5 }, { repeatPenalty: 0 }])
      expect(() => new Sampler(4, params(p), 1), JSON.stringify(p)).to.throw(RangeError);
  });
});
