/**
 * Byte-level BPE over a GGUF's merges (model "gpt2"): llama.cpp's llm_tokenizer_bpe_session for one
 * pre-tokenized word at a time.
 *
 * A word becomes its UTF-8 bytes, each byte the token of its GPT-2 byte-to-unicode character; the
 * merges then apply lowest rank first, leftmost first on ties (mergeSymbols, shared with training's
 * BPE). A merge joins two strings whatever their result: the result need not be a token and may be
 * merged further. At the end each symbol that is a token is that token; one that is not falls back, as
 * in llama.cpp, to looking up each UTF-8 byte of its (byte-mapped) text as a one-byte token: printable
 * ASCII finds its token, any byte of a non-ASCII character finds none and is dropped, exactly as
 * llama.cpp drops it. Files converted from Hugging Face never reach that fallback (every merge result
 * is a token there). With ignore_merges (LLaMA-3), a word that is itself a token is that token.
 *
 * A vocabulary may lack the tokens of some bytes (StarCoder, MPT, GPT-NeoX and Falcon lack 0xC0, 0xC1,
 * 0xF5..0xFF, bytes valid UTF-8 never holds; Falcon also lacks a few control characters). llama.cpp
 * loads such files, and a lone missing byte that no merge absorbs meets the fallback above: dropped.
 * Here it is the same: such a byte is a symbol that is no token (and, joining no merge, stays alone).
 *
 * Symbols are numbered: the file's token ids first, then the merge results that are not tokens; merges
 * are a Map from the packed pair to its rank (the first rank of a repeated pair, as llama.cpp keeps).
 * Words are memoized, so 1 MB of text costs about as much as its distinct words.
 */
import { InputError } from '../../errors.ts';
import { Keys } from '../../format/gguf/index.ts';
import { mergeSymbols } from '../../data/tokenizer/bpe.ts';
import { BYTE_TO_UNICODE } from '../../data/tokenizer/byte-unicode.ts';
import type { StringTable } from '../../format/gguf/index.ts';
import type { TokenIds } from './token-ids.ts';
import type { Vocab } from './vocab.ts';

const CACHE_LIMIT = 100_000;
const CACHE_MAX_WORD = 256;
const utf8 = new TextEncoder();

/**
 * Merge line r's two tokens and the byte index of the space between them (llama.cpp splits at the
 * first space after the first character: in UTF-8 that is the first 0x20 past byte 0, since no
 * multi-byte character holds one), or null.
 */
function parseMerge(merges: StringTable, r: number, ids: TokenIds): { a: number; b: number; sp: number } | null {
  const start = merges.start(r), end = merges.end(r);
  const sp = merges.bytes.indexOf(0x20, start + 1);
  if (sp < 0 || sp >= end) return null;
  const a = ids.getBytes(merges.bytes, start, sp);
  const b = ids.getBytes(merges.bytes, sp + 1, end);
  return a === undefined || b === undefined ? null : { a, b, sp };
}

/**
 * Checks that every merge joins two tokens of the file, without building anything: what the load
 * does, since building the merge tables of a 128k vocabulary takes about a second that commands which
 * never encode (bench, inspect) need not pay.
 */
export function checkMerges(vocab: Pick<Vocab, 'source' | 'idOf' | 'merges'>): void {
  for (let r = 0; r < vocab.merges.length; r++)
    if (parseMerge(vocab.merges, r, vocab.idOf) === null) throw new InputError(vocab.source, badMerge(vocab.merges, r));
}

const badMerge = (merges: StringTable, r: number) =>
  `${Keys.tokenizer.merges}: merges[${r}] "${merges.text(r)}" is not two known tokens separated by one space`;

/** Bytes as a string of one char per byte: a lossless Map key for byte strings that are not tokens. */
const byteKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

export class ByteLevelBpe {
  private readonly idOf: TokenIds;
  private readonly nTokens: number;
  /** Bytes of the symbols past the tokens (merge results that are not tokens). */
  private readonly extra: Uint8Array[] = [];
  /** symbol of byte b: the token of BYTE_TO_UNICODE[b]. */
  private readonly byteSym = new Int32Array(256);
  /** a * width + b -> rank. */
  private readonly rank = new Map<number, number>();
  private readonly width: number;
  private readonly result: Int32Array;
  private readonly cache = new Map<string, Int32Array>();

  /** Builds the merge tables (the merges checked as checkMerges does). */
  constructor(
    vocab: Pick<Vocab, 'source' | 'idOf' | 'tokens' | 'merges'>,
    private readonly ignoreMerges: boolean,
  ) {
    this.idOf = vocab.idOf;
    this.nTokens = vocab.tokens.length;
    const { merges } = vocab;
    const extraId = new Map<string, number>();
    const symbolOf = (b: Uint8Array): number => {
      let c = vocab.idOf.getBytes(b);
      if (c !== undefined) return c;
      const key = byteKey(b);
      c = extraId.get(key);
      if (c === undefined) {
        c = this.nTokens + this.extra.length;
        this.extra.push(b.slice());
        extraId.set(key, c);
      }
      return c;
    };
    BYTE_TO_UNICODE.forEach((s, b) => (this.byteSym[b] = symbolOf(utf8.encode(s))));
    // a pair's key a * width + b must stay unique: room for every symbol a merge or a byte can add
    this.width = this.nTokens + merges.length + 256;
    this.result = new Int32Array(merges.length);
    let joined = new Uint8Array(64);
    for (let r = 0; r < merges.length; r++) {
      const m = parseMerge(merges, r, vocab.idOf);
      if (m === null) throw new InputError(vocab.source, badMerge(merges, r));
      // the merge's result: the line without its space
      const start = merges.start(r), end = merges.end(r), n = end - start - 1;
      if (n > joined.length) joined = new Uint8Array(n * 2);
      joined.set(merges.bytes.subarray(start, m.sp));
      joined.set(merges.bytes.subarray(m.sp + 1, end), m.sp - start);
      this.result[r] = symbolOf(joined.subarray(0, n));
      const k = m.a * this.width + m.b;
      if (!this.rank.has(k)) this.rank.set(k, r);
    }
  }

  /** Appends the ids of one pre-tokenized word. */
  encodeWord(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.encodeUncached(word);
      if (word.length <= CACHE_MAX_WORD) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  private encodeUncached(word: string): Int32Array {
    const bytes = utf8.encode(word);
    if (this.ignoreMerges) {
      let mapped = '';
      for (const b of bytes) mapped += BYTE_TO_UNICODE[b]!;
      const whole = this.idOf.get(mapped);
      if (whole !== undefined) return Int32Array.of(whole);
    }
    const syms = mergeSymbols(
      Int32Array.from(bytes, (b) => this.byteSym[b]!),
      (a, b) => this.rank.get(a * this.width + b) ?? -1,
      (r) => this.result[r]!,
    );
    if (syms.every((s) => s < this.nTokens)) return syms;
    const out: number[] = [];
    for (const s of syms) {
      if (s < this.nTokens) {
        out.push(s);
        continue;
      }
      for (const b of this.extra[s - this.nTokens]!) {
        const id = b < 0x80 ? this.idOf.get(String.fromCharCode(b)) : undefined;
        if (id !== undefined) out.push(id);
      }
    }
    return Int32Array.from(out);
  }
}
