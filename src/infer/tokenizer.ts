/**
 * The engine's tokenizer, read from a GGUF's tokenizer.ggml.* keys, tokenizing as llama.cpp does
 * (llama_vocab::impl::tokenize and token_to_piece) so that the same text becomes the same ids in both
 * programs. Two vocabulary models:
 *
 * - "gpt2", byte-level BPE (our own exports, LLaMA-3, GPT-2, ...): the text is split into words by the
 *   pre-tokenizer the file names (tokenizer/pretokenize.ts: "llama-bpe" and its aliases, "gpt-2" and
 *   its aliases, "default"), then each word is merged by the file's merges (tokenizer/bpe.ts). A name
 *   llama.cpp does not know is refused at load, as llama.cpp refuses it; one it knows but this engine
 *   does not implement (qwen2, deepseek, ...) loads, so that bench and decoding work, and `encode`
 *   refuses it in one line: a stand-in split would give other ids than llama.cpp, without a word.
 * - "llama", SentencePiece BPE over scores with byte fallback (LLaMA-2, Mistral, ...): spaces become
 *   "▁", a space is put before the text and after every special token (add_space_prefix, on unless
 *   the file says otherwise), and the pieces merge by score (tokenizer/spm.ts).
 *
 * Before either, special tokens found in the text are cut out as single tokens (tokenizer/special.ts):
 * USER_DEFINED ones always, CONTROL and UNKNOWN ones when parsing special tokens, which prompts do
 * (llama.cpp's programs tokenize prompts with parse_special), plain `encode` does not: there
 * "<|endoftext|>" is text, as in src/data. `promptIds` adds BOS and EOS as the file's add_bos_token /
 * add_eos_token say, with llama.cpp's defaults when the keys are absent (on for "llama" and for
 * LLaMA-3's pre-tokenizer names, off otherwise).
 *
 * Decoding follows token_to_piece without `special`: normal tokens give their bytes (GPT-2's
 * byte-to-unicode inverted, or "▁" as a space), BYTE tokens their byte, USER_DEFINED tokens their text,
 * CONTROL and UNKNOWN tokens nothing; `decode` also drops the one leading space the space prefix put
 * before the first token (llama_detokenize). It does not apply llama_detokenize's clean-up of spaces
 * before punctuation (Hugging Face's clean_up_tokenization_spaces), so decode(encode(s)) === s for
 * every string the vocabulary can spell (text, not special tokens; for "gpt2" every string).
 *
 * Text is UTF-16 here and bytes in llama.cpp; a lone surrogate (which UTF-8 cannot carry) reads as
 * U+FFFD, as TextEncoder writes it. Token bytes are one buffer with offsets. The merges are checked at
 * load but their tables built on the first encode (about a second and tens of MB for LLaMA-3's 280k
 * merges), so commands that never encode (bench, inspect) do not pay for them.
 */
import { InputError } from '../errors.ts';
import { Keys, TokenType, type GGUFFile, type StringTable } from '../format/gguf/index.ts';
import { BYTE_TO_UNICODE } from '../data/tokenizer/byte-unicode.ts';
import { checkId, decodeIds } from '../data/tokenizer/types.ts';
import { ByteLevelBpe, checkMerges } from './tokenizer/bpe.ts';
import { splitWords, SUPPORTED_PRE, type SplitKind } from './tokenizer/pretokenize.ts';
import { SpecialTokens } from './tokenizer/special.ts';
import { SentencePieceBpe } from './tokenizer/spm.ts';
import { EOG_TEXTS, readVocab, type Vocab, type VocabModel } from './tokenizer/vocab.ts';

const utf8 = new TextEncoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export interface EncodeOptions {
  /** Add BOS / EOS as the file asks (llama.cpp's add_special). Default false. */
  addSpecial?: boolean;
  /** CONTROL and UNKNOWN tokens' strings in the text become those tokens (llama.cpp's parse_special). Default false. */
  parseSpecial?: boolean;
}

export class GGUFTokenizer {
  readonly model: VocabModel;
  readonly vocabSize: number;
  /** End of text: generation stops here (and at the other end-of-generation tokens, see `isEog`). */
  readonly eosId: number | null;
  /** Put before prompts when `addBos`. */
  readonly bosId: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** SentencePiece's space before the text (and after each special token). */
  readonly addSpacePrefix: boolean;
  /** tokenizer.chat_template, or null. */
  readonly chatTemplate: string | null;
  /** tokenizer.ggml.pre ("default" when absent). */
  readonly pre: string;

  /** Token strings by id, as the file's bytes (`tokenText`). */
  private readonly texts: StringTable;
  private readonly types: Uint8Array;
  private readonly special: SpecialTokens;
  private readonly eog: ReadonlySet<number>;
  /** Byte-level BPE: the split (null: `pre` is not implemented, encode refuses) and the merges, built on the first encode. */
  private readonly bpe: { words: SplitKind | null; vocab: Vocab; merges: ByteLevelBpe | null } | null;
  private readonly source: string;
  private readonly spm: SentencePieceBpe | null;
  /** Token id's bytes: bytes[off[id] .. off[id + 1]). */
  private readonly bytes: Uint8Array;
  private readonly off: Int32Array;

  private constructor(v: Vocab) {
    this.model = v.model;
    this.texts = v.tokens;
    this.vocabSize = v.tokens.length;
    this.types = v.types;
    this.eosId = v.eosId;
    this.bosId = v.bosId;
    this.addBos = v.addBos;
    this.addEos = v.addEos;
    this.addSpacePrefix = v.addSpacePrefix;
    this.chatTemplate = v.chatTemplate;
    this.pre = v.pre === '' ? 'default' : v.pre;
    this.special = new SpecialTokens(v.tokens, v.types);
    const eog = new Set<number>();
    for (const id of [v.eosId, v.eotId, v.eomId]) if (id !== null) eog.add(id);
    for (const s of EOG_TEXTS) {
      const id = v.idOf.get(s);
      if (id !== undefined) eog.add(id);
    }
    this.eog = eog;
    this.source = v.source;
    if (v.model === 'gpt2') {
      checkMerges(v);
      this.bpe = { words: v.preTokenizer.split, vocab: v, merges: null };
      this.spm = null;
    } else {
      this.bpe = null;
      this.spm = new SentencePieceBpe(v, spmByteTokens(v));
    }
    // Into one growing buffer: an array of 128 K small Uint8Arrays was ~20 MB of garbage at load.
    const sink = new ByteSink(v.tokens.length * 8);
    this.off = new Int32Array(v.tokens.length + 1);
    for (let id = 0; id < v.tokens.length; id++) {
      piece(v, id, v.tokens.text(id), sink);
      this.off[id + 1] = sink.length;
    }
    this.bytes = sink.bytes();
  }

  /** From the tokenizer.ggml.* keys of an open GGUF; InputError(file) when they are missing or inconsistent. */
  static fromGGUF(f: GGUFFile): GGUFTokenizer {
    return new GGUFTokenizer(readVocab(f));
  }

  /** The ids of `text`; by default no BOS/EOS and special tokens' strings as plain text (see `promptIds`). */
  encode(text: string, opts: EncodeOptions = {}): Int32Array {
    const out: number[] = [];
    if (opts.addSpecial && this.addBos) out.push(this.bosId!);
    const frags = this.special.partition(text.replace(LONE_SURROGATE, '\uFFFD'), opts.parseSpecial ?? false);
    if (this.spm !== null) {
      // llama.cpp: a space before the first text and before the text after each special token
      let afterSpecial = true;
      for (const f of frags) {
        if (typeof f === 'number') out.push(f);
        else this.spm.encode((this.addSpacePrefix && afterSpecial ? ' ' + f : f).replaceAll(' ', '▁'), out);
        afterSpecial = typeof f === 'number';
      }
    } else {
      const bpe = this.bpe!;
      const words = bpe.words;
      if (words === null)
        throw new InputError(this.source, `${Keys.tokenizer.pre} is "${this.pre}", a pre-tokenizer this engine does not implement (it splits text for ${SUPPORTED_PRE})`);
      const merges = (bpe.merges ??= new ByteLevelBpe(bpe.vocab, bpe.vocab.preTokenizer.ignoreMerges));
      for (const f of frags) {
        if (typeof f === 'number') out.push(f);
        else for (const w of splitWords(words, f)) merges.encodeWord(w, out);
      }
    }
    if (opts.addSpecial && this.addEos) out.push(this.eosId!);
    return Int32Array.from(out);
  }

  /**
   * The ids a generation starts from: the prompt as llama.cpp's programs tokenize it (BOS/EOS as the
   * file asks, special tokens parsed). An empty prompt without BOS starts from BOS or, failing that,
   * EOS (our document separator: "a new document begins").
   */
  promptIds(text: string): Int32Array {
    const ids = this.encode(text, { addSpecial: true, parseSpecial: true });
    if (ids.length > 0) return ids;
    const first = this.bosId ?? this.eosId;
    if (first === null) throw new InputError('--prompt', 'is empty and the vocabulary has no BOS or EOS token to start from');
    return Int32Array.of(first);
  }

  /** Whether generation ends at this token: EOS, EOT, EOM, or a token llama.cpp recognizes as such by its text. */
  isEog(id: number): boolean {
    return this.eog.has(id);
  }

  /** The bytes a token stands for in generated text (empty for control tokens). */
  tokenBytes(id: number): Uint8Array {
    checkId(id, this.vocabSize);
    return this.bytes.subarray(this.off[id]!, this.off[id + 1]!);
  }

  /** The token's string in the file (e.g. "<|begin_of_text|>", or "Ġthe" for a byte-level BPE token). */
  tokenText(id: number): string {
    checkId(id, this.vocabSize);
    return this.texts.text(id);
  }

  /** The token's TokenType, after llama.cpp's overrides (end-of-generation and FIM markers are CONTROL). */
  tokenType(id: number): number {
    checkId(id, this.vocabSize);
    return this.types[id]!;
  }

  /**
   * The text of `ids` (llama_detokenize without its space clean-up): with `special`, CONTROL and
   * UNKNOWN tokens show their strings instead of nothing.
   */
  decode(ids: ArrayLike<number>, opts: { special?: boolean } = {}): string {
    const special = opts.special ?? false;
    let first = true;
    return decodeIds(
      {
        tokenBytes: (id) => {
          let b = this.tokenBytes(id);
          const t = this.types[id];
          if (special && (t === TokenType.CONTROL || t === TokenType.UNKNOWN)) b = this.texts.bytes.subarray(this.texts.start(id), this.texts.end(id));
          // llama.cpp strips one leading space from the first token only, whatever that token is
          if (first && this.addSpacePrefix && b[0] === 0x20) b = b.subarray(1);
          first = false;
          return b;
        },
      },
      ids,
    );
  }
}

/** SentencePiece's byte fallback: <0xXX> for each byte, or the byte itself as a token (llama.cpp's byte_to_token). */
function spmByteTokens(v: Vocab): Int32Array {
  const ids = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    const hex = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    const id = v.idOf.get(hex) ?? (b < 0x80 ? v.idOf.get(String.fromCharCode(b)) : undefined);
    if (id === undefined) throw new InputError(v.source, `${Keys.tokenizer.tokens} has no byte token ${hex}, which SentencePiece's byte fallback needs`);
    ids[b] = id;
  }
  return ids;
}

const UNICODE_TO_BYTE = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

/** Bytes appended to one buffer that doubles when full. */
class ByteSink {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }
  push(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }
  /** UTF-8 of `text`. */
  text(text: string): void {
    this.room(text.length * 3); // a UTF-16 unit is at most 3 UTF-8 bytes
    this.length += utf8.encodeInto(text, this.buf.subarray(this.length)).written;
  }
  /** A copy of exactly the bytes written. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Appends a token's bytes as llama.cpp's token_to_piece renders it without `special`. */
function piece(v: Vocab, id: number, text: string, out: ByteSink): void {
  switch (v.types[id]) {
    case TokenType.NORMAL: {
      if (v.model === 'llama') return out.text(text.replaceAll('▁', ' '));
      // llama_decode_text: each code point is a byte of GPT-2's table; one outside it is spelled out
      for (const ch of text) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b !== undefined) out.push(b);
        else {
          const hex = Array.from(utf8.encode(ch), (x) => x.toString(16).padStart(2, '0')).join('');
          out.text(`[UNK_BYTE_0x${hex}${text}]`);
        }
      }
      return;
    }
    case TokenType.BYTE:
      return out.push(parseInt(text.slice(3, 5), 16));
    case TokenType.USER_DEFINED:
      return out.text(text);
    default: // CONTROL, UNKNOWN (rendered only with `special`), UNUSED, UNDEFINED
      return;
  }
}
