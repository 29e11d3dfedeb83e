/**
 * The engine's tokenizer, read from a GGUF vocabulary of model "gpt2" (byte-level BPE): token strings
 * under GPT-2's byte-to-unicode mapping, "a b" merge lines in rank order, GPT-2 pre-tokenization.
 *
 * Encoding reuses src/data's BpeTokenizer on the file's merge lines (the same pre-tokenizer, the same
 * lowest-rank-then-leftmost merging as llama.cpp) and maps each resulting token string to the file's id
 * for it. For our own files the ids are the same numbers, so encode gives exactly src/data's ids; for
 * other gpt2-style vocabularies (any id order) the mapping makes the ids the file's. A merge result that
 * is not itself a token falls back to its byte tokens, as llama.cpp does. Text is never parsed for
 * special tokens: "<|endoftext|>" in a prompt is plain text, as in src/data.
 *
 * Decoding: normal tokens → their bytes (byte-to-unicode inverted); CONTROL tokens (our
 * <|endoftext|>) → nothing, as llama.cpp renders them without `special`; USER_DEFINED tokens and
 * strings outside the byte mapping → their UTF-8 text.
 *
 * Memory: the token bytes are one buffer with offsets, and the encoder (BpeTokenizer and the id map,
 * ~60 MB for a 128k vocabulary) is built on the first encode, so commands that never encode (bench)
 * do not carry it. The merges are checked at load (each joins two tokens of the file).
 */
import { InputError } from '../errors.ts';
import { Keys, TokenType, type GGUFFile } from '../format/gguf/index.ts';
import { BpeTokenizer } from '../data/tokenizer/bpe.ts';
import { BYTE_TO_UNICODE, unicodeToBytes } from '../data/tokenizer/byte-unicode.ts';
import { decodeIds } from '../data/tokenizer/types.ts';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

export class GGUFTokenizer {
  readonly vocabSize: number;
  /** End of text: generation stops here. */
  readonly eosId: number | null;
  /** Prepended to prompts only when the file says add_bos_token (ours do not). */
  readonly bosId: number | null;
  readonly addBos: boolean;
  /** tokenizer.ggml.pre; encoding follows GPT-2's regex whatever it says (see `preIsGpt2`). */
  readonly pre: string;
  /** Built on the first encode: BpeTokenizer on the merges, and its id → file id (−1: not a token of the file). */
  private enc: { bpe: BpeTokenizer; toFile: Int32Array } | null = null;
  private readonly byteIds: Int32Array;
  /** Token id's bytes: bytes[off[id] .. off[id + 1]). */
  private readonly bytes: Uint8Array;
  private readonly off: Int32Array;

  private constructor(
    readonly tokens: readonly string[],
    types: ArrayLike<number> | null,
    private readonly merges: readonly string[],
    private readonly opts: { eosId: number | null; bosId: number | null; addBos: boolean; pre: string; source: string },
  ) {
    const fail = (problem: string): never => {
      throw new InputError(opts.source, problem);
    };
    this.vocabSize = tokens.length;
    const byteOf = new Map(BYTE_TO_UNICODE.map((s, b) => [s, b]));
    this.byteIds = new Int32Array(256).fill(-1);
    for (let i = 0; i < tokens.length; i++) {
      const b = byteOf.get(tokens[i]!);
      if (b !== undefined && this.byteIds[b] === -1) this.byteIds[b] = i;
    }
    this.byteIds.forEach((id, b) => {
      if (id < 0) fail(`${Keys.tokenizer.tokens} has no token for byte 0x${b.toString(16)} ("${BYTE_TO_UNICODE[b]}"), which byte-level BPE needs`);
    });
    // the merges are checked now (each joins two of the file's tokens) and built on the first encode
    const known = new Set(tokens);
    merges.forEach((line, i) => {
      const ab = line.split(' ');
      if (ab.length !== 2 || !known.has(ab[0]!) || !known.has(ab[1]!))
        fail(`${Keys.tokenizer.merges}: merges[${i}] "${line}" is not two known tokens separated by one space`);
    });
    const parts = tokens.map((s, i) => {
      const t = types?.[i] ?? TokenType.NORMAL;
      if (t === TokenType.CONTROL) return EMPTY;
      if (t === TokenType.USER_DEFINED) return utf8.encode(s);
      return unicodeToBytes(s) ?? utf8.encode(s);
    });
    this.off = new Int32Array(tokens.length + 1);
    parts.forEach((p, i) => (this.off[i + 1] = this.off[i]! + p.length));
    this.bytes = new Uint8Array(this.off[tokens.length]!);
    parts.forEach((p, i) => this.bytes.set(p, this.off[i]!));
    for (const [key, id] of [[Keys.tokenizer.eosId, opts.eosId], [Keys.tokenizer.bosId, opts.bosId]] as const)
      if (id !== null && !(Number.isInteger(id) && id >= 0 && id < tokens.length)) fail(`${key} ${id} is outside the vocabulary [0, ${tokens.length})`);
    this.eosId = opts.eosId;
    this.bosId = opts.bosId;
    this.addBos = opts.addBos && opts.bosId !== null;
    this.pre = opts.pre;
  }

  /** From the tokenizer.ggml.* keys of an open GGUF; InputError(file) when they are missing or inconsistent. */
  static fromGGUF(f: GGUFFile): GGUFTokenizer {
    const model = f.getString(Keys.tokenizer.model);
    if (model !== 'gpt2') throw new InputError(f.path, `${Keys.tokenizer.model} is "${model}"; this engine reads byte-level BPE vocabularies ("gpt2") only`);
    const tokens = f.getStringArray(Keys.tokenizer.tokens);
    const types = f.has(Keys.tokenizer.tokenType) ? (f.getArray(Keys.tokenizer.tokenType).items as ArrayLike<number>) : null;
    if (types !== null && (types.length !== tokens.length || typeof types[0] !== 'number'))
      throw new InputError(f.path, `${Keys.tokenizer.tokenType} must be ${tokens.length} integers, one per token`);
    const merges = f.has(Keys.tokenizer.merges) ? f.getStringArray(Keys.tokenizer.merges) : [];
    const id = (key: string): number | null => (f.has(key) ? f.getNumber(key) : null);
    return new GGUFTokenizer(tokens, types, merges, {
      eosId: id(Keys.tokenizer.eosId),
      bosId: id(Keys.tokenizer.bosId),
      addBos: f.has(Keys.tokenizer.addBos) ? f.getBool(Keys.tokenizer.addBos) : false,
      pre: f.has(Keys.tokenizer.pre) ? f.getString(Keys.tokenizer.pre) : 'default',
      source: f.path,
    });
  }

  /** Whether the file asks for GPT-2's pre-tokenizer (the one implemented); others may split text differently. */
  get preIsGpt2(): boolean {
    return this.pre === 'gpt-2' || this.pre === 'default';
  }

  private encoder(): { bpe: BpeTokenizer; toFile: Int32Array } {
    if (this.enc !== null) return this.enc;
    const bpe = BpeTokenizer.fromMergeLines(this.merges);
    if ('error' in bpe) throw new InputError(this.opts.source, `${Keys.tokenizer.merges}: ${bpe.error}`);
    const idOf = new Map<string, number>();
    this.tokens.forEach((s, i) => {
      if (!idOf.has(s)) idOf.set(s, i);
    });
    const strings = bpe.tokenStrings();
    const toFile = Int32Array.from(strings.slice(0, -1), (s) => idOf.get(s) ?? -1); // the last is BpeTokenizer's own eos
    return (this.enc = { bpe, toFile });
  }

  /** The ids of `text` (no BOS: see `promptIds`). */
  encode(text: string): Int32Array {
    const { bpe, toFile } = this.encoder();
    const inner = bpe.encode(text);
    let n = 0;
    for (let i = 0; i < inner.length; i++) n += toFile[inner[i]!]! >= 0 ? 1 : bpe.tokenBytes(inner[i]!).length;
    const out = new Int32Array(n);
    n = 0;
    for (let i = 0; i < inner.length; i++) {
      const id = toFile[inner[i]!]!;
      if (id >= 0) out[n++] = id;
      else for (const b of bpe.tokenBytes(inner[i]!)) out[n++] = this.byteIds[b]!;
    }
    return out;
  }

  /**
   * The ids a generation starts from: BOS first when the file asks for it; an empty prompt starts from
   * BOS or, failing that, EOS (our document separator: "a new document begins").
   */
  promptIds(text: string): Int32Array {
    const ids = this.encode(text);
    const first = this.addBos ? this.bosId : ids.length === 0 ? (this.bosId ?? this.eosId) : null;
    if (first === null) {
      if (ids.length === 0) throw new InputError('--prompt', 'is empty and the vocabulary has no BOS or EOS token to start from');
      return ids;
    }
    const out = new Int32Array(ids.length + 1);
    out[0] = first;
    out.set(ids, 1);
    return out;
  }

  /** The bytes a token stands for (empty for control tokens). */
  tokenBytes(id: number): Uint8Array {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) throw new RangeError(`token id ${id} outside [0, ${this.vocabSize})`);
    return this.bytes.subarray(this.off[id]!, this.off[id + 1]!);
  }

  decode(ids: ArrayLike<number>): string {
    return decodeIds(this, ids);
  }
}
