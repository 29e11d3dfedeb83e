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
import type { Vocab } from './vocab.ts';

const CACHE_LIMIT = 100_000;
const CACHE_MAX_WORD = 256;
const utf8 = new TextEncoder();

/** A merge line's two tokens and where the space between them is (llama.cpp splits at the first space after the first character), or null. */
function parseMerge(line: string, idOf: ReadonlyMap<string, number>): { a: number; b: number; sp: number } | null {
  const sp = line.indexOf(' ', 1);
  const a = sp > 0 ? idOf.get(line.slice(0, sp)) : undefined;
  const b = sp > 0 ? idOf.get(line.slice(sp + 1)) : undefined;
  return a === undefined || b === undefined ? null : { a, b, sp };
}

/**
 * Checks that every merge joins two tokens of the file, without building anything: what the load
 * does, since building the merge tables of a 128k vocabulary takes about a second that commands which
 * never encode (bench, inspect) need not pay.
 */
export function checkMerges(vocab: Pick<Vocab, 'source' | 'idOf' | 'merges'>): void {
  vocab.merges.forEach((line, r) => {
    if (parseMerge(line, vocab.idOf) === null) throw new InputError(vocab.source, badMerge(r, line));
  });
}

const badMerge = (r: number, line: string) => `${Keys.tokenizer.merges}: merges[${r}] "${line}" is not two known tokens separated by one space`;

export class ByteLevelBpe {
  private readonly idOf: ReadonlyMap<string, number>;
  private readonly nTokens: number;
  /** Strings of the symbols past the tokens (merge results that are not tokens). */
  private readonly extra: string[] = [];
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
    const symbolOf = (text: string): number => {
      let c = vocab.idOf.get(text) ?? extraId.get(text);
      if (c === undefined) {
        c = this.nTokens + this.extra.length;
        this.extra.push(text);
        extraId.set(text, c);
      }
      return c;
    };
    BYTE_TO_UNICODE.forEach((s, b) => (this.byteSym[b] = symbolOf(s)));
    // a pair's key a * width + b must stay unique: room for every symbol a merge or a byte can add
    this.width = this.nTokens + merges.length + 256;
    this.result = new Int32Array(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const line = merges[r]!;
      const m = parseMerge(line, vocab.idOf);
      if (m === null) throw new InputError(vocab.source, badMerge(r, line));
      this.result[r] = symbolOf(line.slice(0, m.sp) + line.slice(m.sp + 1));
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
      for (const b of utf8.encode(this.extra[s - this.nTokens]!)) {
        const id = b < 0x80 ? this.idOf.get(String.fromCharCode(b)) : undefined;
        if (id !== undefined) out.push(id);
      }
    }
    return Int32Array.from(out);
  }
}
