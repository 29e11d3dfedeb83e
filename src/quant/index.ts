/**
 * The quantization math and bit packing, once (DESIGN.md "The math"). Plain TypeScript on typed arrays:
 * importing this does not load tfjs; the training-side tfjs wrappers are in ./ste.ts.
 */
export { roundHalfEven, EPS } from './round.ts';
export { f32ToF16Bits, f16BitsToF32 } from './fp16.ts';
export { quantizeTernary, quantizeBinary, dequantize, scaleOf, blockScales, type Granularity, type QuantizedWeights } from './weights.ts';
export { quantizeActivations, fakeQuantActivations, actRange, type ActBits, type QuantizedActivations } from './activations.ts';
export { QK_K } from './blocks.ts';
export { packTQ2_0, unpackTQ2_0, TQ2_0_BLOCK_BYTES } from './tq2_0.ts';
export { packTQ1_0, unpackTQ1_0, tq1Trit, TQ1_0_BLOCK_BYTES } from './tq1_0.ts';
export { TERNARY_CODECS, type TernaryCodec, type TernaryTypeName } from './codecs.ts';
export { packSign1, unpackSign1 } from './sign1.ts';
export { energyPerToken, OP_ENERGY_PJ, type ModelShape, type TokenEnergy, type LinearPrecision, type ProcessNode } from './energy.ts';
export { GGML_CODECS, ggmlCodec, type GgmlCodec, type GgmlTypeName } from './ggml_codecs.ts';
export { newIntBlock, type IntBlock } from './ggml_block.ts';
export { bf16BitsToF32, f32ToBf16Bits } from './bf16.ts';
export { packI2_S, i2sScale, I2_S_BLOCK, I2_S_BLOCK_BYTES, I2_S_TAIL_BYTES } from './i2_s.ts';
