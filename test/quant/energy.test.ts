import { expect } from 'chai';
import { energyPerToken, type ModelShape } from '../../src/quant/energy.ts';

describe('quant/energy', () => {
  it('reproduces b1.58\'s 71.4x matmul-arithmetic saving at 7nm in the limit of large layers', () => {
    // Per weight: FP16 add + mul = 0.16 + 0.34 = 0.5 pJ against one INT8 add = 0.007 pJ: 0.5 / 0.007 = 71.43.
    // The per-output rescale and per-input quantization add O(d) to O(d²), so the ratio tends to it.
    const big: ModelShape = { d_model: 1 << 20, n_layers: 1, d_ff: 1 << 22, n_heads: 1 << 10, n_kv_heads: 1 << 10, vocab_size: 2 };
    const ratio = energyPerToken(big, 'fp16', '7nm').linears / energyPerToken(big, 'ternary', '7nm').linears;
    expect(ratio).to.be.closeTo(0.5 / 0.007, 0.01);
    expect(ratio).to.be.below(0.5 / 0.007); // the overheads only take away
    const small: ModelShape = { d_model: 256, n_layers: 1, d_ff: 1024, n_heads: 4, n_kv_heads: 4, vocab_size: 2 };
    const smallRatio = energyPerToken(small, 'fp16', '7nm').linears / energyPerToken(small, 'ternary', '7nm').linears;
    expect(smallRatio).to.be.below(ratio);
    expect(smallRatio).to.be.above(20);
  });

  it('counts a small shape as computed by hand', () => {
    // d_model 4, d_ff 8, 2 heads, 1 kv head → kv width 1·(4/2) = 2. Weights per layer:
    // q 4·4 = 16, k 4·2 = 8, v 8, o 16, gate 4·8 = 32, up 32, down 8·4 = 32 → 144.
    // Outputs: 4 + 2 + 2 + 4 + 8 + 8 + 4 = 32. Distinct inputs: qkv 4, o 4, gate/up 4, down 8 = 20.
    const s: ModelShape = { d_model: 4, n_layers: 2, d_ff: 8, n_heads: 2, n_kv_heads: 1, vocab_size: 10 };
    // 45nm FP16: 144·(0.4 + 1.1) = 216 per layer, 432 for two; head 10·4·1.5 = 60.
    const fp = energyPerToken(s, 'fp16', '45nm');
    expect(fp.linears).to.be.closeTo(432, 1e-9);
    expect(fp.head).to.be.closeTo(60, 1e-9);
    expect(fp.total).to.be.closeTo(492, 1e-9);
    // 45nm ternary: 144·0.03 + 32·1.1 + 20·1.1 = 4.32 + 35.2 + 22 = 61.52 per layer, 123.04 for two; same head.
    const t = energyPerToken(s, 'ternary', '45nm');
    expect(t.linears).to.be.closeTo(123.04, 1e-9);
    expect(t.head).to.equal(fp.head);
    // 7nm ternary: 144·0.007 + 52·0.34 = 1.008 + 17.68 = 18.688 per layer; binary counts the same.
    expect(energyPerToken(s, 'ternary', '7nm').linears).to.be.closeTo(2 * 18.688, 1e-9);
    expect(energyPerToken(s, 'binary', '7nm')).to.deep.equal(energyPerToken(s, 'ternary', '7nm'));
  });

  it('rejects shapes that are not positive integers or heads that do not divide d_model', () => {
    const s: ModelShape = { d_model: 4, n_layers: 1, d_ff: 8, n_heads: 3, n_kv_heads: 1, vocab_size: 10 };
    expect(() => energyPerToken(s, 'fp16', '7nm')).to.throw(RangeError, /not divisible by n_heads 3/);
    expect(() => energyPerToken({ ...s, n_heads: 2, d_ff: 0 }, 'fp16', '7nm')).to.throw(RangeError, /shape.d_ff must be a positive integer/);
  });
});
