import type { Document } from './corpus.ts';
import { mixSeed } from './rng.ts';

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Splits documents into train and validation, deterministically: each document gets a hash of its
 * index and text, and the round(n * valFraction) documents with the smallest hashes (at least one,
 * at most n - 1) go to validation. Both sides keep corpus order. A corpus of one document (a single
 * .txt) is first cut in two at the line break nearest before (1 - valFraction) of its length, so both
 * sides are never empty.
 */
export function splitDocuments(docs: readonly Document[], valFraction: number): { train: Document[]; val: Document[] } {
  if (docs.length === 1) {
    const text = docs[0]!.text;
    const at = Math.floor(text.length * (1 - valFraction));
    let cut = text.lastIndexOf('\n', at) + 1;
    if (cut <= 0 || cut >= text.length) cut = at;
    // Never cut a surrogate pair in half.
    if (cut > 0 && cut < text.length && /[\uDC00-\uDFFF]/.test(text[cut]!)) cut++;
    if (cut <= 0 || cut >= text.length) return { train: [...docs], val: [] };
    return { train: [{ text: text.slice(0, cut) }], val: [{ text: text.slice(cut) }] };
  }
  const n = docs.length;
  const nVal = Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
  const order = docs.map((d, i) => ({ i, h: mixSeed(i, fnv1a(d.text)) })).sort((a, b) => a.h - b.h || a.i - b.i);
  const isVal = new Uint8Array(n);
  for (let k = 0; k < nVal; k++) isVal[order[k]!.i] = 1;
  return { train: docs.filter((_, i) => !isVal[i]), val: docs.filter((_, i) => isVal[i]) };
}
