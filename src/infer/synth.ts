/**
 * `bitnet synth`: a random-weight ternary model of a BitNet shape (microsoft/BitNet's dummy-model
 * generator), so the engine can be tested and benchmarked without a trained checkpoint.
 *
 * Linears: normals (std 0.02) ternarized with the absmean quantizer per tensor (src/quant: ~1/3 zeros,
 * β folded into every block's d), packed as TQ2_0 or TQ1_0. Embedding F16 normals (tied head), norms 1.
 * Tokenizer: a byte-level "gpt2" vocabulary of the right size: the 256 byte tokens, then merged tokens
 * (two bytes, then three) each with its merge line, then <|endoftext|> last (CONTROL), the layout of our
 * own exports, so llama.cpp loads the file too. Written with writeGGUF one tensor at a time (the
 * embedding in row chunks), each generated only when its turn comes: a 2b4t file never sits in memory.
 */
import { InputError } from '../errors.ts';
import { BITNET_ARCH, FileType, GGMLType, Keys, TensorNames, TokenType, writeGGUF, type GGUFTensorSpec, type GGUFValue } from '../format/gguf/index.ts';
import { BYTE_TO_UNICODE } from '../data/tokenizer/byte-unicode.ts';
import { EOS_TEXT } from '../data/tokenizer/types.ts';
import { mixSeed, Rng } from '../data/rng.ts';
import { f32ToF16Bits } from '../quant/fp16.ts';
import { blockScales, quantizeTernary } from '../quant/weights.ts';
import { TERNARY_CODECS } from '../quant/codecs.ts';

export interface SynthShape {
  d: number;
  layers: number;
  ff: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

/** The shapes of issue 4/6's benchmarks. */
export const SYNTH_SHAPES: Readonly<Record<string, SynthShape>> = {
  '125m': { d: 768, layers: 12, ff: 2048, heads: 12, kvHeads: 12, vocab: 32000 },
  '700m': { d: 1536, layers: 24, ff: 4096, heads: 24, kvHeads: 24, vocab: 32000 },
  '2b4t': { d: 2560, layers: 30, ff: 6912, heads: 20, kvHeads: 5, vocab: 128256 },
};

const SYNTH_CONTEXT = 2048;
const WEIGHT_STD = 0.02;

/** A named shape or "d,layers,ff,heads,kvheads,vocab"; InputError('--shape') when it cannot make a TQ model. */
export function parseShape(s: string): SynthShape {
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
    const [d, layers, ff, heads, kvHeads, vocab] = parts as [number, number, number, number, number, number];
    shape = { d, layers, ff, heads, kvHeads, vocab };
  }
  const { d, ff, heads, kvHeads, vocab } = shape;
  const limits: [string, number, number][] = [['d', d, 65536], ['layers', shape.layers, 512], ['ff', ff, 1 << 18], ['heads', heads, 1024], ['vocab', vocab, 1 << 20]];
  for (const [name, v, max] of limits) if (v > max) fail(`${name} ${v} is larger than this generator makes (at most ${max})`);
  if (d % 256 !== 0 || ff % 256 !== 0) fail(`d ${d} and ff ${ff} must be multiples of 256 (TQ1_0/TQ2_0 rows)`);
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

function ternaryTensor(rows: number, cols: number, type: 'tq2_0' | 'tq1_0', seed: number): Uint8Array {
  const rng = new Rng(seed);
  const w = rng.fillNormal(new Float32Array(rows * cols), WEIGHT_STD);
  const q = quantizeTernary(w, rows, cols, { kind: 'tensor' });
  const codec = TERNARY_CODECS[type === 'tq2_0' ? 'TQ2_0' : 'TQ1_0'];
  return codec.pack(q.codes, blockScales(q, codec.blockSize));
}

/** F16 normals, streamed in chunks of rows. */
function* f16Rows(rows: number, cols: number, seed: number): Generator<Uint8Array> {
  const rng = new Rng(seed);
  const chunk = Math.max(1, Math.floor((1 << 20) / cols));
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0) * cols;
    const h = new Uint16Array(n);
    for (let i = 0; i < n; i++) h[i] = f32ToF16Bits(rng.normal() * WEIGHT_STD);
    yield new Uint8Array(h.buffer);
  }
}

/** Writes the model; returns nothing until the file is complete (atomic: no half file on failure). */
export async function synthModel(out: string, shape: SynthShape, type: 'tq2_0' | 'tq1_0', seed = 1): Promise<void> {
  const { d, layers, ff, heads, kvHeads, vocab } = shape;
  const kvDim = kvHeads * (d / heads);
  const { tokens, types, merges } = synthVocab(vocab);
  const u32 = (value: number): GGUFValue => ({ type: 'u32', value });
  const f32 = (value: number): GGUFValue => ({ type: 'f32', value });
  const str = (value: string): GGUFValue => ({ type: 'string', value });
  const kv: [string, GGUFValue][] = [
    [Keys.general.architecture, str(BITNET_ARCH)],
    [Keys.general.name, str(`bitnet-ts synth ${d}x${layers}`)],
    [Keys.general.fileType, u32(type === 'tq2_0' ? FileType.MOSTLY_TQ2_0 : FileType.MOSTLY_TQ1_0)],
    [Keys.general.quantizationVersion, u32(2)],
    [Keys.bitnet.contextLength, u32(SYNTH_CONTEXT)],
    [Keys.bitnet.embeddingLength, u32(d)],
    [Keys.bitnet.blockCount, u32(layers)],
    [Keys.bitnet.feedForwardLength, u32(ff)],
    [Keys.bitnet.headCount, u32(heads)],
    [Keys.bitnet.headCountKv, u32(kvHeads)],
    [Keys.bitnet.rmsEpsilon, f32(1e-5)],
    [Keys.bitnet.ropeFreqBase, f32(10000)],
    [Keys.bitnet.ropeDimensionCount, u32(d / heads)],
    [Keys.bitnet.vocabSize, u32(vocab)],
    [Keys.bitnet.hiddenActivation, str('silu')],
    [Keys.tokenizer.model, str('gpt2')],
    [Keys.tokenizer.pre, str('gpt-2')],
    [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens } }],
    [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }],
    [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: merges } }],
    [Keys.tokenizer.bosId, u32(vocab - 1)],
    [Keys.tokenizer.eosId, u32(vocab - 1)],
    [Keys.tokenizer.addBos, { type: 'bool', value: false }],
  ];
  let index = 0;
  const tensors: GGUFTensorSpec[] = [];
  const ones = (n: number) => new Float32Array(n).fill(1);
  const norm = (name: string, n: number) => tensors.push({ name, ne: [n], type: GGMLType.F32, data: () => ones(n) });
  const linear = (name: string, rows: number, cols: number) => {
    const s = mixSeed(seed, index++);
    tensors.push({ name, ne: [cols, rows], type: type === 'tq2_0' ? GGMLType.TQ2_0 : GGMLType.TQ1_0, data: () => ternaryTensor(rows, cols, type, s) });
  };
  const embSeed = mixSeed(seed, index++);
  tensors.push({ name: TensorNames.tokenEmbd, ne: [d, vocab], type: GGMLType.F16, data: () => f16Rows(vocab, d, embSeed) });
  for (let i = 0; i < layers; i++) {
    const b = (kind: Parameters<typeof TensorNames.block>[1]) => TensorNames.block(i, kind);
    norm(b('attn_norm'), d);
    linear(b('attn_q'), d, d);
    linear(b('attn_k'), kvDim, d);
    linear(b('attn_v'), kvDim, d);
    norm(b('attn_sub_norm'), d);
    linear(b('attn_output'), d, d);
    norm(b('ffn_norm'), d);
    linear(b('ffn_gate'), ff, d);
    linear(b('ffn_up'), ff, d);
    norm(b('ffn_sub_norm'), ff);
    linear(b('ffn_down'), d, ff);
  }
  norm(TensorNames.outputNorm, d);
  await writeGGUF(out, { kv, tensors });
}
