/**
 * The arithmetic-energy model of BitNet v1 (Table 2: energy per op in pJ, after Horowitz 2014 for 45nm
 * and its 7nm scaling), as a pure function of a model shape.
 *
 * What is counted, per token, for the 7 linears of every block (q, k, v, o, gate, up, down):
 *   fp16:            one FP16 add and one FP16 mul per weight.
 *   ternary, binary: one INT8 add per weight (codes are −1/0/+1 or ±1: the products are sign flips),
 *                    one FP16 mul per output (the rescale by β/s), and one FP16 mul per input element
 *                    for the per-token activation quantization (x·s), counted once per distinct input:
 *                    q, k and v share one input, gate and up another.
 * The LM head is reported apart (`head`) and counted as FP16 in every variant, since BitNet keeps it in
 * full precision; the ratio of `linears` is the papers' claim, the ratio of `total` what a whole model
 * gets. Not counted in any variant: attention scores and the weighted sum of values (they grow with the
 * context and are the same FP16 work in every variant), norms, activation functions, softmax, the
 * absmax search and the embedding lookup. Memory traffic is not modelled at all.
 */

export type ProcessNode = '45nm' | '7nm';
export type LinearPrecision = 'fp16' | 'ternary' | 'binary';

interface OpEnergy {
  add: number;
  mul: number;
}

/** pJ per op, BitNet v1 Table 2. */
export const OP_ENERGY_PJ: Readonly<Record<ProcessNode, Readonly<Record<'fp32' | 'fp16' | 'int8', OpEnergy>>>> = {
  '45nm': { fp32: { add: 0.9, mul: 3.7 }, fp16: { add: 0.4, mul: 1.1 }, int8: { add: 0.03, mul: 0.2 } },
  '7nm': { fp32: { add: 0.38, mul: 1.31 }, fp16: { add: 0.16, mul: 0.34 }, int8: { add: 0.007, mul: 0.07 } },
};

export interface ModelShape {
  d_model: number;
  n_layers: number;
  d_ff: number;
  n_heads: number;
  n_kv_heads: number;
  vocab_size: number;
}

/** Energy per token in pJ. */
export interface TokenEnergy {
  /** The block linears, all layers. */
  linears: number;
  /** The LM head (vocab × d_model), FP16 in every variant. */
  head: number;
  total: number;
}

/** A layer's linears grouped by their shared input: [input width, output widths]. */
function layerInputs(s: ModelShape): Array<[number, number[]]> {
  const kv = s.n_kv_heads * (s.d_model / s.n_heads);
  return [
    [s.d_model, [s.d_model, kv, kv]], // attn_norm → q, k, v
    [s.d_model, [s.d_model]], // attn_sub_norm → o
    [s.d_model, [s.d_ff, s.d_ff]], // ffn_norm → gate, up
    [s.d_ff, [s.d_model]], // ffn_sub_norm → down
  ];
}

function fp16Matmul(weights: number, node: ProcessNode): number {
  const e = OP_ENERGY_PJ[node].fp16;
  return weights * (e.add + e.mul);
}

/** Arithmetic energy per token of the block linears (and the head) at `precision`. */
export function energyPerToken(shape: ModelShape, precision: LinearPrecision, node: ProcessNode): TokenEnergy {
  for (const [k, v] of Object.entries(shape))
    if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`energyPerToken: shape.${k} must be a positive integer, got ${v}`);
  if (shape.d_model % shape.n_heads !== 0) throw new RangeError(`energyPerToken: d_model ${shape.d_model} is not divisible by n_heads ${shape.n_heads}`);
  const { fp16, int8 } = OP_ENERGY_PJ[node];
  let layer = 0;
  for (const [nIn, outs] of layerInputs(shape)) {
    const nOut = outs.reduce((a, b) => a + b, 0);
    layer += precision === 'fp16' ? fp16Matmul(nIn * nOut, node) : nIn * nOut * int8.add + nOut * fp16.mul + nIn * fp16.mul;
  }
  const linears = layer * shape.n_layers;
  const head = fp16Matmul(shape.vocab_size * shape.d_model, node);
  return { linears, head, total: linears + head };
}
