import { z } from 'zod';
import { ModelConfig } from './model.ts';

/**
 * Training settings. LR and weight decay schedules are tagged unions so that a study can vary the
 * schedule as one axis (cosine, two_stage, constant, wsd). `two_stage` is BitNet b1.58's recipe: a high peak, a cut to a lower peak at
 * `split` (fraction of the steps), then decay to about zero; weight decay `wd` then `wd2` after the split.
 */
export const LrSchedule = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('cosine'),
    peak: z.number().positive(),
    warmup: z.number().int().min(0),
    min_ratio: z.number().min(0).max(1).default(0.1),
  }),
  z.strictObject({
    kind: z.literal('two_stage'),
    peak: z.number().positive(),
    peak2: z.number().positive(),
    /** LR at the end of stage 1 (linear decay from peak); absent = flat at peak. */
    end1: z.number().positive().optional(),
    warmup: z.number().int().min(0),
    split: z.number().gt(0).lt(1).default(0.5),
    min_ratio: z.number().min(0).max(1).default(0.0),
  }),
  z.strictObject({ kind: z.literal('constant'), peak: z.number().positive(), warmup: z.number().int().min(0).default(0) }),
  /** Warmup-stable-decay: warmup, flat at peak, then linear to peak·min_ratio over the last `decay` fraction of the steps. */
  z.strictObject({
    kind: z.literal('wsd'),
    peak: z.number().positive(),
    warmup: z.number().int().min(0),
    decay: z.number().gt(0).lt(1).default(0.2),
    min_ratio: z.number().min(0).max(1).default(0),
  }),
]);
export type LrSchedule = z.infer<typeof LrSchedule>;

export const WdSchedule = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('constant'), value: z.number().min(0) }),
  z.strictObject({
    kind: z.literal('two_stage'),
    value: z.number().min(0),
    value2: z.number().min(0).default(0),
    split: z.number().gt(0).lt(1).default(0.5),
  }),
]);
export type WdSchedule = z.infer<typeof WdSchedule>;

export const TrainConfig = z.strictObject({
  steps: z.number().int().positive().default(300),
  batch_size: z.number().int().positive().default(8),
  /** Tokens per sequence; at most model.context_length. */
  seq_len: z.number().int().positive().default(128),
  grad_accum: z.number().int().positive().default(1),
  lr: LrSchedule.default({ kind: 'two_stage', peak: 3e-3, peak2: 1.5e-3, warmup: 30, split: 0.5, min_ratio: 0 }),
  weight_decay: WdSchedule.default({ kind: 'two_stage', value: 0.1, value2: 0, split: 0.5 }),
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.95),
  adam_eps: z.number().positive().default(1e-8),
  grad_clip: z.number().min(0).default(1.0),
  log_every: z.number().int().positive().default(10),
  eval_every: z.number().int().positive().default(50),
  eval_batches: z.number().int().positive().default(8),
  ckpt_every: z.number().int().positive().default(100),
  keep_last: z.number().int().positive().default(2),
  /** Seed of the data order (batches are a pure function of (seed, step)). */
  data_seed: z.number().int().min(0).default(1234),
  backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
  /**
   * The float matmuls' inputs: "fp32", or "bf16" (rounded to bfloat16, float32 accumulation and master
   * weights, as PyTorch's bf16 autocast) for the BitLinears' backward (dX = dY·Wq, dW = dYᵀ·Xq) and the
   * head, forward and backward. The BitLinears' forward is integer either way, attention stays float32.
   * bf16 needs the native kernels (wasm backend); it runs AVX-512 BF16 where the CPU has it.
   */
  matmul_precision: z.enum(['fp32', 'bf16']).default('fp32'),
  /**
   * A warm start: a fresh run begins from another run's weights (its latest checkpoint, or the checkpoint
   * directory named) instead of its own initialization, into a model of the same shape whose quantization
   * may differ (fp, then ternary: continual QAT). The AdamW moments are kept (with their step count) or
   * reset. A resumed run continues from its own checkpoint and ignores this. In a study, "study:ARM" names
   * the run of that arm with the same seed.
   */
  init_from: z
    .strictObject({
      run: z.string().min(1),
      moments: z.enum(['keep', 'reset']).default('reset'),
    })
    .optional(),
});
export type TrainConfig = z.infer<typeof TrainConfig>;

/** A run's config file: the model, the training settings and (optionally) the prepared data directory. */
export const RunConfig = z.strictObject({
  /** What this config is for, the launch command and the result it reaches: kept with the run. */
  description: z.string().optional(),
  data: z.string().optional(),
  model: ModelConfig.default(ModelConfig.parse({})),
  train: TrainConfig.default(TrainConfig.parse({})),
});
export type RunConfig = z.infer<typeof RunConfig>;
