import { Heap } from '../heap.ts';
import { unicodeToBytes } from './byte-unicode.ts';
import { checkId, decodeIds, EOS_BYTES, EOS_TEXT, type Tokenizer } from './types.ts';
import { pairKey, VocabBuilder } from './vocab.ts';

/**
 * GPT-2's pre-tokenizer. llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT2 (GGUF `tokenizer.ggml.pre` = "gpt-2")
 * uses `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)` and keeps the text the
 * regex does not match as pieces of its own, which is what our final `|\s+` alternative yields; so
 * both programs cut text into the same words (up to their Unicode tables for \s, \p{L}, \p{N}).
 */
export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
/** The value to write as GGUF `tokenizer.ggml.pre` for a BPE tokenizer from this module. */
export const GGUF_PRE = 'gpt-2';

export function preTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT) ?? [];
}

const encoder = new TextEncoder();
const CACHE_LIMIT = 200_000;
const CACHE_MAX_WORD = 256;

/**
 * Byte-level BPE with GPT-2's byte-to-unicode strings. Ids: 0..255 bytes, then the merged tokens in
 * the order their merges were learned, then `<|endoftext|>`. Encoding applies merges lowest rank
 * first, leftmost first on ties (as llama.cpp does), per pre-token word, with a cache of words.
 */
export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe' as const;
  readonly vocabSize: number;
  readonly eosId: number;
  private readonly vocab: VocabBuilder;
  private readonly bytes: Uint8Array[];
  /** pair key -> rank of its merge. */
  private readonly rank = new Map<number, number>();
  private readonly cache = new Map<string, Int32Array>();

  private constructor(vocab: VocabBuilder) {
    this.vocab = vocab;
    this.eosId = vocab.size;
    this.vocabSize = vocab.size + 1;
    this.bytes = vocab.strings.map((s) => unicodeToBytes(s)!);
    vocab.mergePairs.forEach(([a, b], r) => {
      const k = pairKey(a, b);
      if (!this.rank.has(k)) this.rank.set(k, r);
    });
  }

  /** From merges as id pairs in rank order (what training produces). */
  static fromPairs(pairs: readonly (readonly [number, number])[]): BpeTokenizer {
    const v = new VocabBuilder();
    for (const [a, b] of pairs) {
      if (a >= v.size || b >= v.size) throw new RangeError(`merge (${a}, ${b}) names an id not yet in the vocabulary`);
      v.addMerge(a, b);
    }
    return new BpeTokenizer(v);
  }

  /**
   * From "a b" merge lines; returns a message instead of throwing so the tokenizer.json loader can
   * name the file and the line.
   */
  static fromMergeLines(lines: readonly string[]): BpeTokenizer | { error: string } {
    const v = new VocabBuilder();
    for (let i = 0; i < lines.length; i++) {
      const parts = lines[i]!.split(' ');
      const a = parts.length === 2 ? v.idOfString(parts[0]!) : undefined;
      const b = parts.length === 2 ? v.idOfString(parts[1]!) : undefined;
      if (a === undefined || b === undefined) return { error: `merges[${i}] "${lines[i]}" is not two known tokens separated by one space` };
      v.addMerge(a, b);
    }
    return new BpeTokenizer(v);
  }

  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length >> 1));
    let n = 0;
    for (const word of preTokenize(text)) {
      const ids = this.encodeWord(word);
      if (n + ids.length > out.length) {
        const grown = new Int32Array(Math.max(out.length * 2, n + ids.length));
        grown.set(out.subarray(0, n));
        out = grown;
      }
      out.set(ids, n);
      n += ids.length;
    }
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    return decodeIds(this, ids);
  }

  tokenStrings(): string[] {
    return [...this.vocab.strings, EOS_TEXT];
  }

  merges(): string[] {
    return this.vocab.mergePairs.map(([a, b]) => `${this.vocab.strings[a]} ${this.vocab.strings[b]}`);
  }

  tokenBytes(id: number): Uint8Array {
    checkId(id, this.vocabSize);
    return id === this.eosId ? EOS_BYTES : this.bytes[id]!;
  }

  private encodeWord(word: string): Int32Array {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const ids = this.mergeBytes(encoder.encode(word));
    if (word.length <= CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /** Applies the merges to one word's bytes (ids 0..255 are the bytes). */
  private mergeBytes(bytes: Uint8Array): Int32Array {
    if (bytes.length < 2) return Int32Array.from(bytes);
    return mergeSymbols(
      Int32Array.from(bytes),
      (a, b) => this.rank.get(pairKey(a, b)) ?? -1,
      (r) => this.vocab.mergeResult[r]!,
    );
  }
}

/**
 * Applies BPE merges to one word's symbols: lowest rank first, leftmost first on ties, each merge
 * joining two neighbours into the symbol its rank yields; a linked list of symbols and a heap of
 * (rank, left position) with stale entries skipped when popped. This is llama.cpp's
 * llm_tokenizer_bpe_session::tokenize loop (its priority queue orders llm_bigram_bpe by rank, then
 * left index), shared by our trained BPE and the engine's reader of other people's merges.
 *
 * @param rankOf the rank of merging symbol `a` with the symbol `b` to its right, or -1 for none.
 * @param resultOf the symbol a merge of that rank yields.
 */
export function mergeSymbols(symbols: Int32Array, rankOf: (a: number, b: number) => number, resultOf: (rank: number) => number): Int32Array {
  const n = symbols.length;
  if (n < 2) return symbols.slice();
  const id = symbols.slice();
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  // entry = rank * 2^32 + left position: lowest rank first, then leftmost.
  const heap = new Heap((x, y) => x < y);
  const push = (left: number) => {
    const right = left >= 0 ? next[left]! : -1;
    if (right < 0) return;
    const r = rankOf(id[left]!, id[right]!);
    if (r >= 0) heap.push(r * 4294967296 + left);
  };
  for (let i = 0; i + 1 < n; i++) push(i);
  for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
    const r = Math.floor(e / 4294967296);
    const left = e - r * 4294967296;
    const right = next[left]!;
    // stale: the left symbol was merged away, or the pair at `left` is no longer the one of rank r
    if (id[left]! < 0 || right < 0 || rankOf(id[left]!, id[right]!) !== r) continue;
    id[left] = resultOf(r);
    id[right] = -1;
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    push(prev[left]!);
    push(left);
  }
  let m = 0;
  for (let i = 0; i >= 0; i = next[i]!) m++;
  const out = new Int32Array(m);
  m = 0;
  for (let i = 0; i >= 0; i = next[i]!) out[m++] = id[i]!;
  return out;
}
