import { z } from 'zod';

/**
 * The model: one schema shared by training, export (as GGUF metadata) and the engine.
 * Defaults are the tiny ternary model of experiments/configs/tiny-b158.json.
 */

/** Scale granularity of the weight quantizer: one β per tensor (the papers), per output row, or per group of N input columns. */
export const WeightScale = z.union([
  z.literal('tensor'),
  z.literal('row'),
  z.string().regex(/^group:[1-9][0-9]*$/, 'expected "tensor", "row" or "group:N" with N > 0'),
]);
export type WeightScale = z.infer<typeof WeightScale>;

export type Granularity = { kind: 'tensor' } | { kind: 'row' } | { kind: 'group'; size: number };

export function parseWeightScale(s: WeightScale): Granularity {
  if (s === 'tensor' || s === 'row') return { kind: s };
  return { kind: 'group', size: Number(s.slice('group:'.length)) };
}

export const ModelConfig = z
  .strictObject({
    vocab_size: z.number().int().min(2).max(1 << 20).default(4096),
    d_model: z.number().int().positive().default(256),
    n_layers: z.number().int().positive().default(4),
    n_heads: z.number().int().positive().default(4),
    n_kv_heads: z.number().int().positive().default(4),
    d_ff: z.number().int().positive().default(768),
    context_length: z.number().int().positive().default(256),
    /** swiglu = silu(gate)·up (b1.58 / llama.cpp "silu"); relu2 = relu(gate)²·up (2B4T). */
    activation: z.enum(['swiglu', 'relu2']).default('swiglu'),
    weight_quant: z.enum(['fp', 'binary', 'ternary']).default('ternary'),
    weight_scale: WeightScale.default('tensor'),
    act_quant: z.enum(['none', 'int8', 'int4']).default('int8'),
    subln: z.enum(['on', 'off']).default('on'),
    tie_embeddings: z.boolean().default(true),
    rope_theta: z.number().positive().default(10000),
    norm_eps: z.number().positive().default(1e-5),
    init_std: z.number().positive().default(0.02),
    seed: z.number().int().min(0).default(1),
  })
  .superRefine((c, ctx) => {
    if (c.d_model % c.n_heads !== 0)
      ctx.addIssue({ code: 'custom', path: ['d_model'], message: `d_model ${c.d_model} is not divisible by n_heads ${c.n_heads}` });
    if (c.n_heads % c.n_kv_heads !== 0)
      ctx.addIssue({ code: 'custom', path: ['n_kv_heads'], message: `n_heads ${c.n_heads} is not a multiple of n_kv_heads ${c.n_kv_heads}` });
    if ((c.d_model / c.n_heads) % 2 !== 0)
      ctx.addIssue({ code: 'custom', path: ['n_heads'], message: `head dimension ${c.d_model / c.n_heads} must be even for RoPE` });
    if (c.weight_scale.startsWith('group:')) {
      const g = Number(c.weight_scale.slice(6));
      for (const [k, n] of [['d_model', c.d_model], ['d_ff', c.d_ff]] as const)
        if (n % g !== 0) ctx.addIssue({ code: 'custom', path: ['weight_scale'], message: `group size ${g} does not divide ${k} ${n}` });
    }
  });
export type ModelConfig = z.infer<typeof ModelConfig>;

/** Derived sizes, one place. */
export function headDim(c: ModelConfig): number {
  return c.d_model / c.n_heads;
}

/** Parameter count (latent weights), embeddings included once when tied. */
export function paramCount(c: ModelConfig): number {
  const hd = headDim(c);
  const kv = c.n_kv_heads * hd;
  const attn = c.d_model * c.d_model * 2 + c.d_model * kv * 2;
  const ffn = c.d_model * c.d_ff * 3;
  const norms = c.d_model * 2 + (c.subln === 'on' ? c.d_model + c.d_ff : 0);
  const emb = c.vocab_size * c.d_model * (c.tie_embeddings ? 1 : 2);
  return c.n_layers * (attn + ffn + norms) + emb + c.d_model;
}
