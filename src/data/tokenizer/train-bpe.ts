import { Heap } from '../heap.ts';
import { BpeTokenizer, preTokenize } from './bpe.ts';
import { MAX_VOCAB, pairKey, VocabBuilder } from './vocab.ts';

/** A pair must occur at least this often to be merged: a merge seen once only memorizes. */
export const MIN_PAIR_COUNT = 2;

export interface BpeTrainResult {
  tokenizer: BpeTokenizer;
  /** True when the corpus ran out of pairs seen MIN_PAIR_COUNT times before `vocabSize` was reached. */
  stoppedEarly: boolean;
}

/**
 * Trains byte-level BPE to `vocabSize` ids (256 bytes + merged tokens + `<|endoftext|>`).
 *
 * Words (GPT-2 pre-tokens) are counted once; pair counts are then kept up to date incrementally: a
 * merge revisits only the words that contain its pair (an index pair -> words), and the best pair
 * comes from a lazy max-heap (stale entries skipped). Ties go to the smallest (left id, right id),
 * so the result depends on the corpus alone.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number): BpeTrainResult {
  if (!(Number.isInteger(vocabSize) && vocabSize > 257 && vocabSize <= MAX_VOCAB)) throw new RangeError(`trainBpe: vocabSize must be an integer in [258, ${MAX_VOCAB}], got ${vocabSize}`);
  const wordCount = new Map<string, number>();
  for (const text of texts) for (const w of preTokenize(text)) wordCount.set(w, (wordCount.get(w) ?? 0) + 1);

  const encoder = new TextEncoder();
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of wordCount) {
    const b = encoder.encode(w);
    if (b.length < 2) continue; // a one-byte word has no pair
    words.push(Array.from(b));
    freq.push(c);
  }

  const count = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.length; i++) {
      const k = pairKey(w[i]!, w[i + 1]!);
      count.set(k, (count.get(k) ?? 0) + freq[wi]!);
      let s = where.get(k);
      if (!s) where.set(k, (s = new Set()));
      s.add(wi);
    }
  });

  // Heap entries are indices into (entryCount, entryKey): most frequent first, then smallest pair.
  const entryCount: number[] = [];
  const entryKey: number[] = [];
  const heap = new Heap((x, y) => entryCount[x]! > entryCount[y]! || (entryCount[x] === entryCount[y] && entryKey[x]! < entryKey[y]!));
  const offer = (k: number, c: number) => {
    entryCount.push(c);
    entryKey.push(k);
    heap.push(entryKey.length - 1);
  };
  for (const [k, c] of count) if (c >= MIN_PAIR_COUNT) offer(k, c);

  const vocab = new VocabBuilder();
  const merged = new Set<number>();
  const target = vocabSize - 1; // the last id is <|endoftext|>
  while (vocab.size < target) {
    const e = heap.pop();
    if (e === undefined) break;
    const k = entryKey[e]!;
    if (count.get(k) !== entryCount[e]) continue; // stale
    const a = Math.floor(k / MAX_VOCAB);
    const b = k - a * MAX_VOCAB;
    // A pair merged before can only come back through a merge that reused an existing string;
    // apply it again without a second merge line (encoding already has its rank).
    const id = merged.has(k) ? vocab.mergeResult[vocab.mergePairs.findIndex(([x, y]) => x === a && y === b)]! : vocab.addMerge(a, b);
    merged.add(k);

    const delta = new Map<number, number>();
    const bump = (key: number, d: number) => delta.set(key, (delta.get(key) ?? 0) + d);
    for (const wi of where.get(k) ?? []) {
      const w = words[wi]!;
      const f = freq[wi]!;
      let j = w.indexOf(a);
      let hit = false;
      while (j >= 0 && j + 1 < w.length) {
        if (w[j + 1] === b) {
          hit = true;
          break;
        }
        j = w.indexOf(a, j + 1);
      }
      if (!hit) continue;
      for (let i = 0; i + 1 < w.length; i++) bump(pairKey(w[i]!, w[i + 1]!), -f);
      const out: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w[i]!);
      }
      words[wi] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const nk = pairKey(out[i]!, out[i + 1]!);
        bump(nk, f);
        let s = where.get(nk);
        if (!s) where.set(nk, (s = new Set()));
        s.add(wi);
      }
    }
    for (const [key, d] of delta) {
      if (d === 0) continue;
      const c = (count.get(key) ?? 0) + d;
      if (c > 0) count.set(key, c);
      else count.delete(key);
      if (c >= MIN_PAIR_COUNT) offer(key, c);
    }
    where.delete(k);
  }
  return { tokenizer: BpeTokenizer.fromPairs(vocab.mergePairs), stoppedEarly: vocab.size < target };
}
