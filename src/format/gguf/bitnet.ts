/**
 * The bitnet architecture family, once: hyperparameters <-> GGUF keys, the tensor table of a shape,
 * the variants other tools write, and the names. Export, synth, the engine's loader, training's
 * parameter table and the tests all use this module; nothing else spells a GGUF key or a tensor name of
 * the architecture.
 *
 * One vocabulary of names: the training config's (src/config/model.ts: d_model, n_layers, d_ff,
 * n_heads, n_kv_heads, vocab_size, context_length, norm_eps, rope_theta, activation "swiglu" |
 * "relu2"). They are mapped to GGUF's (embedding_length, block_count, feed_forward_length,
 * attention.head_count, ... and "silu") only here.
 *
 * Variants (general.architecture), as llama.cpp and bitnet.cpp define them (llama.cpp src/llama-arch.cpp
 * LLM_ARCH_BITNET and its tensor list; bitnet.cpp's llama.cpp fork LLM_ARCH_BITNET_25 / _B158, built by
 * build_bitnet_158; utils/convert-hf-to-gguf-bitnet.py):
 *   "bitnet"        1bitLLM bitnet_b1_58-large/3B and our exports: SwiGLU (llama.cpp's build_bitnet uses
 *                   LLM_FFN_SILU; our own files may say relu2 in bitnet.hidden_activation), the head tied
 *                   to token_embd, optional per-tensor `blk.N.attn_q.scale` {1} tensors that multiply a
 *                   linear's output (mainline's loader: TENSOR_NOT_REQUIRED).
 *   "bitnet-b1.58"  BitNet b1.58 2B4T as re-uploaded 2025-04-23: ReLU² (LLM_FFN_RELU_SQR), SubLN, an
 *   "bitnet-25"     optional untied `output.weight`; the earlier 2025 upload ("bitnet-25") is the same
 *                   graph. Their I2_S linears carry their scale inside the tensor data.
 * Keys are prefixed by the architecture name ("bitnet-b1.58.embedding_length").
 */
import { InputError } from '../../errors.ts';
import type { GGUFFile } from './reader.ts';
import type { GGUFValue } from './value.ts';

export const BITNET_ARCHS = ['bitnet', 'bitnet-b1.58', 'bitnet-25'] as const;
export type BitnetArch = (typeof BITNET_ARCHS)[number];

/** What the variant implies when its file does not say. */
const VARIANTS: Record<BitnetArch, { activation: 'swiglu' | 'relu2' }> = {
  bitnet: { activation: 'swiglu' },
  'bitnet-b1.58': { activation: 'relu2' },
  'bitnet-25': { activation: 'relu2' },
};

/** The shape: exactly the training config's fields of the same names (a ModelConfig is one). */
export interface BitnetShape {
  vocab_size: number;
  d_model: number;
  n_layers: number;
  d_ff: number;
  n_heads: number;
  n_kv_heads: number;
}

/** Everything the forward pass needs from the file's keys. */
export interface BitnetHparams extends BitnetShape {
  arch: BitnetArch;
  context_length: number;
  norm_eps: number;
  rope_theta: number;
  activation: 'swiglu' | 'relu2';
}

export const headDimOf = (s: Pick<BitnetShape, 'd_model' | 'n_heads'>): number => s.d_model / s.n_heads;
export const kvDimOf = (s: Pick<BitnetShape, 'd_model' | 'n_heads' | 'n_kv_heads'>): number => s.n_kv_heads * headDimOf(s);

/** The architecture's keys, under its own prefix. */
export function archKeys(arch: BitnetArch) {
  const k = (name: string) => `${arch}.${name}`;
  return {
    contextLength: k('context_length'),
    embeddingLength: k('embedding_length'),
    blockCount: k('block_count'),
    feedForwardLength: k('feed_forward_length'),
    headCount: k('attention.head_count'),
    headCountKv: k('attention.head_count_kv'),
    rmsEpsilon: k('attention.layer_norm_rms_epsilon'),
    ropeFreqBase: k('rope.freq_base'),
    ropeDimensionCount: k('rope.dimension_count'),
    vocabSize: k('vocab_size'),
    /** Ours (llama.cpp does not read it: its "bitnet" graph is SwiGLU): "silu" or "relu2". */
    hiddenActivation: k('hidden_activation'),
  };
}

const u32 = (value: number): GGUFValue => ({ type: 'u32', value });
const f32 = (value: number): GGUFValue => ({ type: 'f32', value });
const str = (value: string): GGUFValue => ({ type: 'string', value });

/** The architecture's KV pairs for these hyperparameters (general.architecture first). */
export function hparamsKv(h: BitnetHparams): [string, GGUFValue][] {
  const K = archKeys(h.arch);
  return [
    ['general.architecture', str(h.arch)],
    [K.contextLength, u32(h.context_length)],
    [K.embeddingLength, u32(h.d_model)],
    [K.blockCount, u32(h.n_layers)],
    [K.feedForwardLength, u32(h.d_ff)],
    [K.headCount, u32(h.n_heads)],
    [K.headCountKv, u32(h.n_kv_heads)],
    [K.rmsEpsilon, f32(h.norm_eps)],
    [K.ropeFreqBase, f32(h.rope_theta)],
    [K.ropeDimensionCount, u32(headDimOf(h))],
    [K.vocabSize, u32(h.vocab_size)],
    [K.hiddenActivation, str(h.activation === 'swiglu' ? 'silu' : 'relu2')],
  ];
}

/** Reads and checks the hyperparameters of a bitnet-family file; anything else is a one-line InputError. */
export function readBitnetHparams(f: GGUFFile): BitnetHparams {
  const fail = (key: string, problem: string): never => {
    throw new InputError(f.path, `${key} ${problem}`);
  };
  const archName = f.getString('general.architecture');
  if (!(BITNET_ARCHS as readonly string[]).includes(archName))
    fail('general.architecture', `is "${archName}"; this engine runs the bitnet family: ${BITNET_ARCHS.map((a) => `"${a}"`).join(', ')}`);
  const arch = archName as BitnetArch;
  const K = archKeys(arch);
  const positive = (key: string, fallback?: number): number => {
    const v = f.getNumber(key, fallback);
    if (!Number.isSafeInteger(v) || v < 1) fail(key, `is ${v}, expected a positive integer`);
    return v;
  };
  const d_model = positive(K.embeddingLength);
  const n_heads = positive(K.headCount);
  const n_kv_heads = positive(K.headCountKv, n_heads);
  if (d_model % n_heads !== 0) fail(K.headCount, `${n_heads} does not divide embedding_length ${d_model}`);
  if (n_heads % n_kv_heads !== 0) fail(K.headCountKv, `${n_kv_heads} does not divide head_count ${n_heads}`);
  const hd = d_model / n_heads;
  if (hd % 2 !== 0) fail(K.headCount, `gives an odd head dimension ${hd} (RoPE pairs dimensions)`);
  const ropeDim = positive(K.ropeDimensionCount, hd);
  if (ropeDim !== hd) fail(K.ropeDimensionCount, `is ${ropeDim}; only RoPE over the whole head (${hd}) is supported`);
  const norm_eps = f.getNumber(K.rmsEpsilon);
  if (!(norm_eps > 0 && norm_eps < 1)) fail(K.rmsEpsilon, `is ${norm_eps}, expected a small positive number`);
  const rope_theta = f.getNumber(K.ropeFreqBase, 10000);
  if (!(rope_theta > 1 && Number.isFinite(rope_theta))) fail(K.ropeFreqBase, `is ${rope_theta}, expected a number > 1`);
  const act = f.getString(K.hiddenActivation, VARIANTS[arch].activation === 'swiglu' ? 'silu' : 'relu2');
  if (act !== 'silu' && act !== 'relu2') fail(K.hiddenActivation, `is "${act}", expected "silu" or "relu2"`);
  const embd = f.hasTensor(TensorNames.tokenEmbd) ? f.tensor(TensorNames.tokenEmbd) : undefined;
  const vocab_size = positive(K.vocabSize, embd?.ne[1] ?? f.getStringArray('tokenizer.ggml.tokens').length);
  return {
    arch, vocab_size, d_model, n_heads, n_kv_heads, norm_eps, rope_theta,
    n_layers: positive(K.blockCount),
    d_ff: positive(K.feedForwardLength),
    context_length: positive(K.contextLength),
    activation: act === 'silu' ? 'swiglu' : 'relu2',
  };
}

/** Per-block tensor kinds of the family. */
export type BlockTensor =
  | 'attn_norm' | 'attn_q' | 'attn_k' | 'attn_v' | 'attn_output' | 'attn_sub_norm'
  | 'ffn_norm' | 'ffn_gate' | 'ffn_up' | 'ffn_down' | 'ffn_sub_norm';

/** The quantized linears of a block, in the order of the forward pass. */
export const BLOCK_LINEARS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
export type BlockLinear = (typeof BLOCK_LINEARS)[number];

export const TensorNames = {
  tokenEmbd: 'token_embd.weight',
  outputNorm: 'output_norm.weight',
  output: 'output.weight',
  /** `blk.3.attn_q.weight` */
  block: (i: number, kind: BlockTensor): string => `blk.${i}.${kind}.weight`,
  /** `blk.3.attn_q.scale`: a per-tensor scale {1} multiplying the linear's output (1bitLLM conversions). */
  scale: (i: number, kind: BlockLinear): string => `blk.${i}.${kind}.scale`,
  /**
   * Ours: `blk.3.attn_q.group_scales` F32 {cols/g, rows}, one scale per group of g input columns, for
   * group scales narrower than a 256-weight TQ block (whose own d is then 1).
   */
  groupScales: (weightName: string): string => weightName.replace(/\.weight$/, '.group_scales'),
} as const;

/** This project's own keys (llama.cpp ignores them): how a model was quantized and trained. */
export const OurKeys = {
  /** The newest version of these keys: written by our export, the most our engine reads. */
  version: 1,
  prefix: 'bitnet_ts.',
  names: {
    version: 'bitnet_ts.version',
    weightQuant: 'bitnet_ts.weight_quant',
    weightScale: 'bitnet_ts.weight_scale',
    actQuant: 'bitnet_ts.act_quant',
    subln: 'bitnet_ts.subln',
    config: 'bitnet_ts.config',
    sourceRun: 'bitnet_ts.source_run',
    sourceStep: 'bitnet_ts.source_step',
    llamaCppCompatible: 'bitnet_ts.llama_cpp_compatible',
  },
} as const;

/** [rows = out, cols = in] of a block linear. */
export function linearShape(s: BitnetShape, kind: BlockLinear): [number, number] {
  const kv = kvDimOf(s);
  switch (kind) {
    case 'attn_q':
    case 'attn_output':
      return [s.d_model, s.d_model];
    case 'attn_k':
    case 'attn_v':
      return [kv, s.d_model];
    case 'ffn_gate':
    case 'ffn_up':
      return [s.d_ff, s.d_model];
    case 'ffn_down':
      return [s.d_model, s.d_ff];
  }
}

export type TensorRole = 'embedding' | 'norm' | 'linear' | 'head';

export interface TensorSpec {
  name: string;
  /** PyTorch order: [out, in] for matrices, [n] for vectors. GGUF's ne is the reverse. */
  shape: number[];
  role: TensorRole;
  /** The block, or null for the embedding, the output norm and the head. */
  layer: number | null;
  kind: BlockTensor | null;
}

/** GGUF's ne (innermost first) of a tensor in PyTorch order. */
export const neOf = (shape: readonly number[]): number[] => [...shape].reverse();

/**
 * Every tensor of a model of this shape, in the order of the forward pass (the order our files store
 * them): token_embd, per block attn_norm, q, k, v, [attn_sub_norm], attn_output, ffn_norm, gate, up,
 * [ffn_sub_norm], down; output_norm; [output] when the head is untied.
 */
export function tensorTable(s: BitnetShape, o: { subln: boolean; tied: boolean }): TensorSpec[] {
  const t: TensorSpec[] = [{ name: TensorNames.tokenEmbd, shape: [s.vocab_size, s.d_model], role: 'embedding', layer: null, kind: null }];
  for (let i = 0; i < s.n_layers; i++) {
    const norm = (kind: BlockTensor, n: number) => t.push({ name: TensorNames.block(i, kind), shape: [n], role: 'norm', layer: i, kind });
    const linear = (kind: BlockLinear) => t.push({ name: TensorNames.block(i, kind), shape: linearShape(s, kind), role: 'linear', layer: i, kind });
    norm('attn_norm', s.d_model);
    linear('attn_q');
    linear('attn_k');
    linear('attn_v');
    if (o.subln) norm('attn_sub_norm', s.d_model);
    linear('attn_output');
    norm('ffn_norm', s.d_model);
    linear('ffn_gate');
    linear('ffn_up');
    if (o.subln) norm('ffn_sub_norm', s.d_ff);
    linear('ffn_down');
  }
  t.push({ name: TensorNames.outputNorm, shape: [s.d_model], role: 'norm', layer: null, kind: null });
  if (!o.tied) t.push({ name: TensorNames.output, shape: [s.vocab_size, s.d_model], role: 'head', layer: null, kind: null });
  return t;
}
