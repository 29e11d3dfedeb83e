/**
 * Checkpoint → GGUF v3, arch "bitnet", exactly as llama.cpp reads it (DESIGN.md, Formats):
 * embeddings (and an untied head) F16 or F32, or Q8_0 / Q6_K through src/quant's ports of llama.cpp's
 * reference quantizers (the bytes llama-quantize would write for them), norms F32, ternary/binary linears as TQ2_0 or TQ1_0 with the quantizer's
 * scale β folded into each 256-weight block's fp16 d (binary models are ternary codes without zeros,
 * so they export losslessly), the tokenizer as tokenizer.ggml.* ("gpt2"), our own keys under
 * `bitnet_ts.`. Models llama.cpp cannot express still export; the result says why they are ours alone.
 *
 * Group scales narrower than a 256-block cannot live in TQ blocks: those blocks hold d = 1 and an F32
 * tensor `<linear>.group_scales` (ne {cols/g, rows}) carries one scale per group, read by our engine.
 */
import { statSync } from 'node:fs';
import { InputError } from '../errors.ts';
import {
  blockScales,
  f16BitsToF32,
  f32ToF16Bits,
  quantizeBinary,
  quantizeTernary,
  TERNARY_CODECS,
  GGML_CODECS,
  type Granularity,
  type QuantizedWeights,
} from '../quant/index.ts';
import { hparamsKv, OurKeys, TensorNames } from './gguf/bitnet.ts';
import { FileType, GGMLType, Keys, TokenType } from './gguf/constants.ts';
import type { GGUFValue } from './gguf/value.ts';
import { writeGGUF, type GGUFTensorSpec } from './gguf/writer.ts';

/** The model fields the file needs (the training config's names). */
export interface ExportModel {
  vocab_size: number;
  d_model: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  d_ff: number;
  context_length: number;
  activation: 'swiglu' | 'relu2';
  weight_quant: 'fp' | 'binary' | 'ternary';
  weight_scale: string;
  act_quant: 'none' | 'int8' | 'int4';
  subln: 'on' | 'off';
  rope_theta: number;
  norm_eps: number;
}

export interface ExportTensor {
  /** GGUF name, e.g. blk.0.attn_q.weight. */
  name: string;
  /** PyTorch order [out, in]; GGUF's ne is the reverse. */
  shape: readonly number[];
  kind: 'embedding' | 'norm' | 'linear' | 'head';
  data: Float32Array;
}

export interface ExportTokenizer {
  kind: 'byte' | 'bpe';
  vocabSize: number;
  eosId: number;
  tokenStrings(): string[];
  merges(): string[];
}

export interface ExportInput {
  model: ExportModel;
  granularity: Granularity;
  tensors: readonly ExportTensor[];
  tokenizer: ExportTokenizer;
  /** The pre-tokenizer name llama.cpp should use (GPT-2's regex: "gpt-2"). */
  pre: string;
  /** Extra `bitnet_ts.*` provenance: the full training config, source run and step. */
  provenance: { config: unknown; run: string; step: number };
  name?: string;
}

export type TernaryType = 'tq2_0' | 'tq1_0';
export const EMBEDDING_TYPES = ['f16', 'f32', 'q8_0', 'q6_k'] as const;
/** The type of token_embd and of an untied output.weight. */
export type EmbeddingType = (typeof EMBEDDING_TYPES)[number];

export interface ExportOptions {
  out: string;
  type: TernaryType;
  embeddingType: EmbeddingType;
}

export interface ExportResult {
  out: string;
  bytes: number;
  llamaCppCompatible: boolean;
  /** Why llama.cpp cannot run this file as we do (empty when it can). */
  reasons: string[];
}

/** Quantizes one linear exactly as the training forward does. */
export function quantizeLinear(w: Float32Array, rows: number, cols: number, quant: 'binary' | 'ternary', g: Granularity): QuantizedWeights {
  return quant === 'ternary' ? quantizeTernary(w, rows, cols, g) : quantizeBinary(w, rows, cols, g);
}

/** Whether the scales live in the TQ blocks' d (else d = 1 plus a group_scales tensor). */
function scalesFitBlocks(g: Granularity): boolean {
  return g.kind !== 'group' || g.size % 256 === 0;
}

/**
 * Whether a ternary linear of `cols` inputs fits TQ1_0/TQ2_0, whose rows are whole 256-weight blocks.
 * One that does not (a model narrower than 256, or a d_ff such as 344) is written as I8 codes
 * (-1, 0, 1) with its scales in a group_scales tensor: 8 bits per weight instead of 1.69-2.06, which
 * our engine packs into its 2-bit layout at load (any width), and which llama.cpp cannot multiply.
 */
export function fitsTernaryBlocks(cols: number): boolean {
  return cols % 256 === 0;
}

/** A narrow linear's group_scales: [rows, cols / group] row-major, every granularity as groups of a row. */
function narrowScales(q: QuantizedWeights): { group: number; scales: Float32Array } {
  const g = q.granularity;
  if (g.kind === 'group') return { group: g.size, scales: q.scales };
  return { group: q.cols, scales: g.kind === 'row' ? q.scales : new Float32Array(q.rows).fill(q.scales[0]!) };
}

/** Rounds through fp16, as the file stores a value. */
export function f16Round(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

/**
 * The scale of each segment of `group` columns of a linear as the file stores it (row-major, cols/group
 * per row): fp16(d) of each 256-weight block when the scales live in the blocks, else the group scales
 * (F32: exact), as for a linear too narrow for the blocks.
 */
export function storedSegmentScales(q: QuantizedWeights): { group: number; scales: Float32Array } {
  if (!fitsTernaryBlocks(q.cols)) return narrowScales(q);
  if (scalesFitBlocks(q.granularity)) return { group: 256, scales: blockScales(q, 256).map(f16Round) };
  return { group: (q.granularity as { size: number }).size, scales: q.scales };
}

/**
 * The values a linear has once written to the file and read back: code · fp16(d) (· group scale).
 * The parity tests feed exactly these to the training forward.
 */
export function linearAsStored(q: QuantizedWeights): Float32Array {
  const { rows, cols } = q;
  const { group, scales } = storedSegmentScales(q);
  const perRow = cols / group;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = q.codes[r * cols + c]! * scales[r * perRow + Math.floor(c / group)]!;
  return out;
}

function f16Bytes(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = f32ToF16Bits(data[i]!);
  return out;
}

const BLOCK_EMBEDDING = { q8_0: { codec: GGML_CODECS.Q8_0, ggml: GGMLType.Q8_0 }, q6_k: { codec: GGML_CODECS.Q6_K, ggml: GGMLType.Q6_K } } as const;

/** An embedding or head tensor of `type` (quantized lazily, when the writer reaches it). */
function tableTensor(t: ExportTensor, ne: number[], type: EmbeddingType): GGUFTensorSpec {
  if (type === 'f32') return { name: t.name, ne, type: GGMLType.F32, data: t.data };
  if (type === 'f16') return { name: t.name, ne, type: GGMLType.F16, data: () => f16Bytes(t.data) };
  const { codec, ggml } = BLOCK_EMBEDDING[type];
  if (t.shape[1]! % codec.blockSize !== 0)
    throw new InputError('--embedding-type', `${type} stores rows of whole ${codec.blockSize}-weight blocks; ${t.name} rows have ${t.shape[1]} weights (choose d_model as a multiple of ${codec.blockSize}, or f16)`);
  return { name: t.name, ne, type: ggml, data: () => codec.quantizeRow!(t.data) };
}

const u32 = (value: number): GGUFValue => ({ type: 'u32', value });
const str = (value: string): GGUFValue => ({ type: 'string', value });
const bool = (value: boolean): GGUFValue => ({ type: 'bool', value });

/**
 * Why some ternary/binary linears of a model of this shape cannot be TQ1_0/TQ2_0 (whose rows are whole
 * 256-weight blocks; every linear's row is d_model or d_ff wide), or null when all can.
 */
function ternaryBlockProblem(m: Pick<ExportModel, 'weight_quant' | 'd_model' | 'd_ff'>): string | null {
  if (m.weight_quant === 'fp') return null;
  const bad = ([['d_model', m.d_model], ['d_ff', m.d_ff]] as const).filter(([, n]) => !fitsTernaryBlocks(n));
  if (bad.length === 0) return null;
  return `${bad.map(([k, n]) => `${k} ${n}`).join(' and ')} ${bad.length > 1 ? 'are not multiples' : 'is not a multiple'} of 256, which TQ1_0/TQ2_0 rows need: those linears are written as I8 codes (8 bits per weight), which llama.cpp cannot multiply`;
}

/** Why llama.cpp cannot run this model as our engine does. */
export function llamaCppIncompatibilities(m: ExportModel, g: Granularity, tok: ExportTokenizer): string[] {
  const r: string[] = [];
  if (!scalesFitBlocks(g)) r.push(`weight_scale ${m.weight_scale}: scales of groups narrower than 256 weights need the extra group_scales tensors only our engine reads`);
  if (m.act_quant !== 'int8') r.push(`act_quant ${m.act_quant}: llama.cpp quantizes activations to 8 bits per 256-block`);
  if (m.subln === 'off') r.push('subln off: llama.cpp\'s bitnet graph requires attn_sub_norm and ffn_sub_norm');
  if (tok.merges().length === 0) r.push('byte tokenizer: llama.cpp rejects a "gpt2" vocabulary without merges');
  const blocks = ternaryBlockProblem(m);
  if (blocks !== null) r.push(blocks);
  return r;
}

export async function exportGGUF(input: ExportInput, opts: ExportOptions): Promise<ExportResult> {
  const { model: m, granularity: g, tokenizer: tok } = input;
  const ternary = m.weight_quant !== 'fp';
  const codec = TERNARY_CODECS[opts.type === 'tq2_0' ? 'TQ2_0' : 'TQ1_0'];
  const reasons = llamaCppIncompatibilities(m, g, tok);

  const tokens = tok.tokenStrings();
  const tokenType = new Int32Array(tok.vocabSize).fill(TokenType.NORMAL);
  tokenType[tok.eosId] = TokenType.CONTROL;
  const [arch, ...archKv] = hparamsKv({ arch: 'bitnet', ...m });
  const kv: [string, GGUFValue][] = [
    arch!,
    [Keys.general.name, str(input.name ?? 'bitnet-ts model')],
    [Keys.general.fileType, u32(!ternary ? FileType.MOSTLY_F16 : opts.type === 'tq2_0' ? FileType.MOSTLY_TQ2_0 : FileType.MOSTLY_TQ1_0)],
    [Keys.general.quantizationVersion, u32(2)],
    [Keys.general.alignment, u32(32)],
    ...archKv,
    [Keys.tokenizer.model, str('gpt2')],
    [Keys.tokenizer.pre, str(input.pre)],
    [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens } }],
    [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: tokenType } }],
    [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: tok.merges() } }],
    [Keys.tokenizer.bosId, u32(tok.eosId)],
    [Keys.tokenizer.eosId, u32(tok.eosId)],
    [Keys.tokenizer.addBos, bool(false)],
    [OurKeys.names.version, u32(OurKeys.version)],
    [OurKeys.names.weightQuant, str(m.weight_quant)],
    [OurKeys.names.weightScale, str(m.weight_scale)],
    [OurKeys.names.actQuant, str(m.act_quant)],
    [OurKeys.names.subln, str(m.subln)],
    [OurKeys.names.config, str(JSON.stringify(input.provenance.config))],
    [OurKeys.names.sourceRun, str(input.provenance.run)],
    [OurKeys.names.sourceStep, u32(input.provenance.step)],
    [OurKeys.names.llamaCppCompatible, bool(reasons.length === 0)],
  ];

  const tensors: GGUFTensorSpec[] = [];
  for (const t of input.tensors) {
    const ne = [...t.shape].reverse();
    if (t.kind === 'norm') tensors.push({ name: t.name, ne, type: GGMLType.F32, data: t.data });
    else if (t.kind === 'embedding' || t.kind === 'head') tensors.push(tableTensor(t, ne, opts.embeddingType));
    else if (!ternary) tensors.push(tableTensor(t, ne, 'f16'));
    else {
      const [rows, cols] = t.shape as [number, number];
      // Quantized lazily, one tensor at a time, when the writer reaches it.
      let q: QuantizedWeights | undefined;
      const quantized = () => (q ??= quantizeLinear(t.data, rows, cols, m.weight_quant as 'binary' | 'ternary', g));
      if (!fitsTernaryBlocks(cols)) {
        tensors.push({ name: t.name, ne, type: GGMLType.I8, data: () => quantized().codes });
        tensors.push({ name: TensorNames.groupScales(t.name), ne: [cols / narrowScales(quantized()).group, rows], type: GGMLType.F32, data: () => narrowScales(quantized()).scales });
        continue;
      }
      const fits = scalesFitBlocks(g);
      tensors.push({
        name: t.name,
        ne,
        type: opts.type === 'tq2_0' ? GGMLType.TQ2_0 : GGMLType.TQ1_0,
        data: () => codec.pack(quantized().codes, fits ? blockScales(quantized(), codec.blockSize) : new Float32Array((rows * cols) / codec.blockSize).fill(1)),
      });
      if (!fits) {
        const name = TensorNames.groupScales(t.name);
        tensors.push({ name, ne: [cols / (g as { size: number }).size, rows], type: GGMLType.F32, data: () => quantized().scales });
      }
    }
  }
  await writeGGUF(opts.out, { kv, tensors });
  return { out: opts.out, bytes: statSync(opts.out).size, llamaCppCompatible: reasons.length === 0, reasons };
}
