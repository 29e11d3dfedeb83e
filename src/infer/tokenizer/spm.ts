/**
 * SentencePiece BPE over token scores (model "llama"): llama.cpp's llm_tokenizer_spm_session, for one
 * piece of text between special tokens, after the caller has put the "▁" for spaces in.
 *
 * The text starts as one symbol per code point. Every pair of neighbours whose concatenation is a
 * token of the vocabulary (any token, as llama.cpp's text_to_token finds it, whatever its type) is a
 * candidate with that token's score; the best candidate merges first (highest score, then leftmost),
 * its new neighbours become candidates, and candidates whose symbols changed are skipped when popped
 * (llama.cpp compares the two symbols' lengths with the candidate's). At the end each symbol is its
 * token; a symbol that is not a token (a single character outside the vocabulary: merged symbols are
 * always tokens) becomes the byte tokens <0xXX> of its UTF-8 bytes, SentencePiece's byte fallback
 * (llama.cpp's resegment; its rev_merge map is only consulted for such symbols and never holds one).
 *
 * There is no pre-tokenization: the whole piece is one sequence, as in llama.cpp, so merges may cross
 * word boundaries when the vocabulary has such tokens.
 */
import { Heap } from '../../data/heap.ts';
import type { Vocab } from './vocab.ts';

const utf8 = new TextEncoder();

export class SentencePieceBpe {
  constructor(
    private readonly vocab: Pick<Vocab, 'idOf' | 'scores'>,
    /** byte b -> its fallback token (checked by the caller to exist for every byte). */
    private readonly byteIds: Int32Array,
  ) {}

  /** Appends the ids of `text` (spaces already escaped as "▁"). */
  encode(text: string, out: number[]): void {
    const n = countCodePoints(text);
    if (n === 0) return;
    // symbols: [start, start + len) in UTF-16 units of `text`; len 0 once merged into the left neighbour
    const start = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0, at = 0; i < n; i++) {
      const c = text.charCodeAt(at);
      const w = c >= 0xd800 && c <= 0xdbff && at + 1 < text.length ? 2 : 1;
      start[i] = at;
      len[i] = w;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
      at += w;
    }
    // candidates as parallel arrays; the heap holds their indices
    const cLeft: number[] = [];
    const cRight: number[] = [];
    const cScore: number[] = [];
    const cSize: number[] = [];
    const heap = new Heap((a, b) => cScore[a]! > cScore[b]! || (cScore[a] === cScore[b] && cLeft[a]! < cLeft[b]!));
    const { idOf, scores } = this.vocab;
    const tryPair = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const id = idOf.get(text.slice(start[left]!, start[right]! + len[right]!));
      if (id === undefined) return;
      cLeft.push(left);
      cRight.push(right);
      cScore.push(scores[id]!);
      cSize.push(len[left]! + len[right]!);
      heap.push(cLeft.length - 1);
    };
    for (let i = 1; i < n; i++) tryPair(i - 1, i);
    for (let k = heap.pop(); k !== undefined; k = heap.pop()) {
      const l = cLeft[k]!;
      const r = cRight[k]!;
      if (len[l] === 0 || len[r] === 0 || len[l]! + len[r]! !== cSize[k]) continue;
      len[l] += len[r]!;
      len[r] = 0;
      next[l] = next[r]!;
      if (next[r]! >= 0) prev[next[r]!] = l;
      tryPair(prev[l]!, l);
      tryPair(l, next[l]!);
    }
    for (let i = 0; i >= 0; i = next[i]!) {
      const piece = text.slice(start[i]!, start[i]! + len[i]!);
      const id = idOf.get(piece);
      if (id !== undefined) out.push(id);
      else for (const b of utf8.encode(piece)) out.push(this.byteIds[b]!);
    }
  }
}

function countCodePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}
