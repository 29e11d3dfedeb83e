/**
 * `bitnet synth`: a random-weight ternary model of a BitNet shape (microsoft/BitNet's dummy-model
 * generator), so the engine can be tested and benchmarked without a trained checkpoint, in our own
 * layout or in the layouts llama.cpp and bitnet.cpp write (the architecture variants of
 * src/format/gguf/bitnet.ts, I2_S linears, block-quantized embeddings and heads): the foreign loader
 * is then tested and benchmarked without downloads.
 *
 * Linears: random ternary codes with the statistics of absmean-ternarized normals of std 0.02 (31 %
 * zeros, scale β = 0.02·√(2/π); ./synth-codes.ts), made and packed natively when the addon is loaded
 * (a 100b file in about 2.5 minutes), as TQ2_0 or TQ1_0 (β in every block's d) or I2_S (β as the
 * tensor's one scale, as bitnet.cpp's converter writes it). Embedding values: approximate normals of
 * std 0.02 (./synth-codes.ts synthNormals, native when the addon is loaded) as F16, or through src/quant's
 * reference quantizers as Q8_0 / Q6_K (llama.cpp's bytes), tied to the head unless an output type
 * asks for an untied head (normals of its own stream). Norms 1. The variant sets the FFN: "bitnet"
 * SwiGLU, "bitnet-b1.58" / "bitnet-25" ReLU² (bitnet.cpp's graph).
 * Tokenizer: a byte-level "gpt2" vocabulary of the right size: the 256 byte tokens, then merged tokens
 * (two bytes, then three) each with its merge line, then <|endoftext|> last (CONTROL), the layout of our
 * own exports, so llama.cpp loads the file too. Written with writeGGUF one tensor at a time (the
 * embedding in row chunks), each generated only when its turn comes: a 2b4t file never sits in memory.
 */
import { InputError } from '../errors.ts';
import { FileType, GGMLType, Keys, TokenType, writeGGUF, type GGUFTensorSpec, type GGUFValue } from '../format/gguf/index.ts';
import { neOf, tensorTable, hparamsKv, type BitnetArch, type BitnetShape } from '../format/gguf/bitnet.ts';
import { BYTE_TO_UNICODE } from '../data/tokenizer/byte-unicode.ts';
import { EOS_TEXT } from '../data/tokenizer/types.ts';
import { mixSeed } from '../data/rng.ts';
import { GGML_CODECS } from '../quant/ggml_codecs.ts';
import { synthNormals, synthTensor } from './synth-codes.ts';

export type SynthShape = BitnetShape;
export const SYNTH_LINEAR_TYPES = ['tq2_0', 'tq1_0', 'i2_s'] as const;
export type SynthLinearType = (typeof SYNTH_LINEAR_TYPES)[number];
export const SYNTH_TABLE_TYPES = ['f16', 'q8_0', 'q6_k'] as const;
/** The type of the embedding, and of an untied head. */
export type SynthTableType = (typeof SYNTH_TABLE_TYPES)[number];

export interface SynthOptions {
  /** general.architecture (default "bitnet"). */
  arch?: BitnetArch;
  /** default f16 */
  embeddingType?: SynthTableType;
  /** An untied head (output.weight) of this type; absent: the head is tied to the embedding. */
  outputType?: SynthTableType;
  /** Tokenizer keys that replace the made-up vocabulary's (synth-vocab.ts; the shape's vocab_size must be their token count). */
  vocab?: [string, GGUFValue][];
}

/** Columns of a row that each linear type needs whole (I2_S: its 128-weight blocks). */
const LINEAR_ROW_MULTIPLE: Record<SynthLinearType, number> = { tq2_0: 256, tq1_0: 256, i2_s: 128 };
const TABLE_GGML = { f16: GGMLType.F16, q8_0: GGMLType.Q8_0, q6_k: GGMLType.Q6_K } as const;
const FILE_TYPE: Record<SynthLinearType, number> = { tq2_0: FileType.MOSTLY_TQ2_0, tq1_0: FileType.MOSTLY_TQ1_0, i2_s: FileType.MOSTLY_I2_S };

const shape = (d_model: number, n_layers: number, d_ff: number, n_heads: number, n_kv_heads: number, vocab_size: number): SynthShape => ({ d_model, n_layers, d_ff, n_heads, n_kv_heads, vocab_size });

/** The shapes of the benchmarks. */
export const SYNTH_SHAPES: Readonly<Record<string, SynthShape>> = {
  '125m': shape(768, 12, 2048, 12, 12, 32000),
  '700m': shape(1536, 24, 4096, 24, 24, 32000),
  '2b4t': shape(2560, 30, 6912, 20, 5, 128256),
  // bitnet.cpp's benchmark shapes (microsoft/BitNet utils/generate-dummy-bitnet-model.py: hidden size,
  // intermediate size, layers, heads; no GQA), with the LLaMA vocabulary of the bitnet_b1_58 models it
  // converts. Its 125M (768, 3072, 11 layers) is not our 125m above.
  '350m': shape(1024, 24, 3072, 16, 16, 32000),
  '1b': shape(2048, 24, 3584, 32, 32, 32000),
  '1.5b': shape(1536, 28, 9216, 32, 32, 32000),
  '2.7b': shape(3072, 24, 7680, 32, 32, 32000),
  '3.8b': shape(3840, 24, 8192, 32, 32, 32000),
  '7b': shape(4096, 32, 12032, 32, 32, 32000),
  '13b': shape(5120, 40, 13824, 40, 40, 32000),
  '30b': shape(6656, 60, 16384, 52, 52, 32000),
  '70b': shape(8192, 80, 24576, 64, 64, 32000),
  '100b': shape(8192, 72, 45568, 64, 64, 32000),
};

const SYNTH_CONTEXT = 2048;
const WEIGHT_STD = 0.02;

/** A named shape or "d,layers,ff,heads,kvheads,vocab"; InputError('--shape') when it cannot make a model with `type` linears. */
export function parseShape(s: string, type: SynthLinearType = 'tq2_0'): SynthShape {
  const named = SYNTH_SHAPES[s];
  const fail = (problem: string): never => {
    throw new InputError('--shape', problem);
  };
  let shape: SynthShape;
  if (named) shape = named;
  else {
    const parts = s.split(',').map((p) => Number(p.trim()));
    if (parts.length !== 6 || parts.some((v) => !(Number.isSafeInteger(v) && v > 0)))
      fail(`"${s}" is neither ${Object.keys(SYNTH_SHAPES).join(', ')} nor six positive integers d,layers,ff,heads,kvheads,vocab`);
    shape = { d_model: parts[0]!, n_layers: parts[1]!, d_ff: parts[2]!, n_heads: parts[3]!, n_kv_heads: parts[4]!, vocab_size: parts[5]! };
  }
  const { d_model: d, d_ff: ff, n_heads: heads, n_kv_heads: kvHeads, vocab_size: vocab } = shape;
  const limits: [string, number, number][] = [['d', d, 65536], ['layers', shape.n_layers, 512], ['ff', ff, 1 << 18], ['heads', heads, 1024], ['vocab', vocab, 1 << 20]];
  for (const [name, v, max] of limits) if (v > max) fail(`${name} ${v} is larger than this generator makes (at most ${max})`);
  const m = LINEAR_ROW_MULTIPLE[type];
  if (d % m !== 0 || ff % m !== 0) fail(`d ${d} and ff ${ff} must be multiples of ${m} (${type === 'i2_s' ? 'I2_S' : 'TQ1_0/TQ2_0'} rows)`);
  if (d % heads !== 0 || (d / heads) % 2 !== 0) fail(`d ${d} must split into ${heads} heads of an even size`);
  if (heads % kvHeads !== 0) fail(`kv heads ${kvHeads} must divide heads ${heads}`);
  if (vocab < 257) fail(`vocab ${vocab} must be at least 257 (256 byte tokens and <|endoftext|>)`);
  return shape;
}

/** Byte order for the synthetic merges: lowercase, space, uppercase, digits, then the rest. */
function byteOrder(): number[] {
  const first = [...'etaoinshrdlcumwfgypbvkjxqz ', ...'ETAOINSHRDLCUMWFGYPBVKJXQZ', ...'0123456789.,'].map((c) => c.charCodeAt(0));
  return [...first, ...Array.from({ length: 256 }, (_, b) => b).filter((b) => !first.includes(b))];
}

/** tokens (bytes, merged tokens, <|endoftext|>), their types and the merge lines of a vocab of `vocab`. */
export function synthVocab(vocab: number): { tokens: string[]; types: Int32Array; merges: string[] } {
  const tokens = [...BYTE_TO_UNICODE];
  const merges: string[] = [];
  const order = byteOrder().map((b) => BYTE_TO_UNICODE[b]!);
  const need = vocab - 257;
  // two-byte tokens a+b, then three-byte tokens (a+b)+c: every left part is already a token
  outer: for (const prefixes of [order, null]) {
    const lefts = prefixes ?? tokens.slice(256, 256 + order.length * order.length);
    for (const a of lefts)
      for (const c of order) {
        if (merges.length === need) break outer;
        merges.push(`${a} ${c}`);
        tokens.push(a + c);
      }
  }
  if (merges.length !== need) throw new RangeError(`synthVocab: vocab ${vocab} is larger than this generator makes`);
  tokens.push(EOS_TEXT);
  const types = new Int32Array(vocab).fill(TokenType.NORMAL);
  types[vocab - 1] = TokenType.CONTROL;
  return { tokens, types, merges };
}

const CODES_LAYOUT = { tq2_0: 'TQ2_0', tq1_0: 'TQ1_0', i2_s: 'I2_S' } as const;

/** Approximate normals (./synth-codes.ts synthNormals) as F16 or quantized to Q8_0 / Q6_K, streamed in chunks of whole rows. */
function* tableRows(rows: number, cols: number, type: SynthTableType, seed: number): Generator<Uint8Array> {
  const chunk = Math.max(1, Math.floor((1 << 22) / cols));
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0) * cols;
    if (type === 'f16') {
      const h = new Uint16Array(n);
      synthNormals(seed, r0 * cols, WEIGHT_STD, h);
      yield new Uint8Array(h.buffer);
    } else {
      const x = new Float32Array(n);
      synthNormals(seed, r0 * cols, WEIGHT_STD, x);
      yield GGML_CODECS[type === 'q8_0' ? 'Q8_0' : 'Q6_K'].quantizeRow!(x);
    }
  }
}

/** InputError naming the flag when the shape cannot hold the embedding / head type (whole blocks per row). */
function checkTableType(shape: SynthShape, flag: string, type: SynthTableType | undefined): void {
  if (type === undefined || type === 'f16') return;
  const bs = GGML_CODECS[type === 'q8_0' ? 'Q8_0' : 'Q6_K'].blockSize;
  if (shape.d_model % bs !== 0) throw new InputError(flag, `${type} needs d a multiple of its block size ${bs}, got d ${shape.d_model}`);
}

/**
 * Writes the model; returns nothing until the file is complete (atomic: no half file on failure). A
 * shape whose d the embedding or head type cannot split into whole blocks is an InputError naming
 * --embedding-type / --output-type.
 */
export async function synthModel(out: string, shape: SynthShape, type: SynthLinearType, seed = 1, opts: SynthOptions = {}): Promise<void> {
  const archName = opts.arch ?? 'bitnet';
  const embeddingType = opts.embeddingType ?? 'f16';
  checkTableType(shape, '--embedding-type', embeddingType);
  checkTableType(shape, '--output-type', opts.outputType);
  const { tokens, types, merges } = synthVocab(shape.vocab_size);
  const u32 = (value: number): GGUFValue => ({ type: 'u32', value });
  const str = (value: string): GGUFValue => ({ type: 'string', value });
  const activation = archName === 'bitnet' ? 'swiglu' : 'relu2';
  const [arch, ...archKv] = hparamsKv({ arch: archName, ...shape, context_length: SYNTH_CONTEXT, norm_eps: 1e-5, rope_theta: 10000, activation });
  const kv: [string, GGUFValue][] = [
    arch!,
    [Keys.general.name, str(`bitnet-ts synth ${shape.d_model}x${shape.n_layers}`)],
    [Keys.general.fileType, u32(FILE_TYPE[type])],
    [Keys.general.quantizationVersion, u32(2)],
    ...archKv,
    [Keys.tokenizer.model, str('gpt2')],
    [Keys.tokenizer.pre, str('gpt-2')],
    [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens } }],
    [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }],
    [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: merges } }],
    [Keys.tokenizer.bosId, u32(shape.vocab_size - 1)],
    [Keys.tokenizer.eosId, u32(shape.vocab_size - 1)],
    [Keys.tokenizer.addBos, { type: 'bool', value: false }],
  ];
  // Seeds: the embedding first, then the linears in order, then an untied head (each tensor its own stream).
  let index = 0;
  const embSeed = mixSeed(seed, index++);
  const linearType = type === 'tq2_0' ? GGMLType.TQ2_0 : type === 'tq1_0' ? GGMLType.TQ1_0 : GGMLType.I2_S;
  const tensors: GGUFTensorSpec[] = tensorTable(shape, { subln: true, tied: opts.outputType === undefined }).map((t) => {
    const ne = neOf(t.shape);
    const [rows, cols] = t.shape as [number, number];
    if (t.role === 'embedding') return { name: t.name, ne, type: TABLE_GGML[embeddingType], data: () => tableRows(rows, cols, embeddingType, embSeed) };
    if (t.role === 'norm') return { name: t.name, ne, type: GGMLType.F32, data: () => new Float32Array(t.shape[0]!).fill(1) };
    const s = mixSeed(seed, index++);
    if (t.role === 'head') {
      const headType = opts.outputType!;
      return { name: t.name, ne, type: TABLE_GGML[headType], data: () => tableRows(rows, cols, headType, s) };
    }
    return { name: t.name, ne, type: linearType, data: () => synthTensor(CODES_LAYOUT[type], rows, cols, s) };
  });
  const vocab = opts.vocab;
  await writeGGUF(out, { kv: vocab ? [...kv.filter(([k]) => !k.startsWith('tokenizer.')), ...vocab] : kv, tensors });
}
