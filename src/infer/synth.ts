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
import { FileType, GGMLType, Keys, TokenType, writeGGUF, type GGUFTensorSpec, type GGUFValue } from '../format/gguf/index.ts';
import { neOf, tensorTable, hparamsKv, type BitnetShape } from '../format/gguf/bitnet.ts';
import { BYTE_TO_UNICODE } from '../data/tokenizer/byte-unicode.ts';
import { EOS_TEXT } from '../data/tokenizer/types.ts';
import { mixSeed, Rng } from '../data/rng.ts';
import { f32ToF16Bits } from '../quant/fp16.ts';
import { blockScales, quantizeTernary } from '../quant/weights.ts';
import { TERNARY_CODECS } from '../quant/codecs.ts';

export type SynthShape = BitnetShape;

const shape = (d_model: number, n_layers: number, d_ff: number, n_heads: number, n_kv_heads: number, vocab_size: number): SynthShape => ({ d_model, n_layers, d_ff, n_heads, n_kv_heads, vocab_size });

/** The shapes of the benchmarks. */
export const SYNTH_SHAPES: Readonly<Record<string, SynthShape>> = {
  '125m': shape(768, 12, 2048, 12, 12, 32000),
  '700m': shape(1536, 24, 4096, 24, 24, 32000),
  '2b4t': shape(2560, 30, 6912, 20, 5, 128256),
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
    shape = { d_model: parts[0]!, n_layers: parts[1]!, d_ff: parts[2]!, n_heads: parts[3]!, n_kv_heads: parts[4]!, vocab_size: parts[5]! };
  }
  const { d_model: d, d_ff: ff, n_heads: heads, n_kv_heads: kvHeads, vocab_size: vocab } = shape;
  const limits: [string, number, number][] = [['d', d, 65536], ['layers', shape.n_layers, 512], ['ff', ff, 1 << 18], ['heads', heads, 1024], ['vocab', vocab, 1 << 20]];
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

/**
 * Writes the model; returns nothing until the file is complete (atomic: no half file on failure).
 * `vocab`: tokenizer keys that replace the made-up vocabulary's (synth-vocab.ts; the shape's
 * vocab_size must be their token count).
 */
export async function synthModel(out: string, shape: SynthShape, type: 'tq2_0' | 'tq1_0', seed = 1, vocab?: [string, GGUFValue][]): Promise<void> {
  const { tokens, types, merges } = synthVocab(shape.vocab_size);
  const u32 = (value: number): GGUFValue => ({ type: 'u32', value });
  const str = (value: string): GGUFValue => ({ type: 'string', value });
  const [arch, ...archKv] = hparamsKv({ arch: 'bitnet', ...shape, context_length: SYNTH_CONTEXT, norm_eps: 1e-5, rope_theta: 10000, activation: 'swiglu' });
  const kv: [string, GGUFValue][] = [
    arch!,
    [Keys.general.name, str(`bitnet-ts synth ${shape.d_model}x${shape.n_layers}`)],
    [Keys.general.fileType, u32(type === 'tq2_0' ? FileType.MOSTLY_TQ2_0 : FileType.MOSTLY_TQ1_0)],
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
  // Seeds: the embedding first, then the linears in order (each tensor its own stream).
  let index = 0;
  const embSeed = mixSeed(seed, index++);
  const tensors: GGUFTensorSpec[] = tensorTable(shape, { subln: true, tied: true }).map((t) => {
    const ne = neOf(t.shape);
    if (t.role === 'embedding') return { name: t.name, ne, type: GGMLType.F16, data: () => f16Rows(t.shape[0]!, t.shape[1]!, embSeed) };
    if (t.role === 'norm') return { name: t.name, ne, type: GGMLType.F32, data: () => new Float32Array(t.shape[0]!).fill(1) };
    const s = mixSeed(seed, index++);
    const [rows, cols] = t.shape as [number, number];
    return { name: t.name, ne, type: type === 'tq2_0' ? GGMLType.TQ2_0 : GGMLType.TQ1_0, data: () => ternaryTensor(rows, cols, type, s) };
  });
  await writeGGUF(out, { kv: vocab ? [...kv.filter(([k]) => !k.startsWith('tokenizer.')), ...vocab] : kv, tensors });
}
