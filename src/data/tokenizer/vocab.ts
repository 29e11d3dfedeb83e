import { BYTE_TO_UNICODE } from './byte-unicode.ts';

/** Largest vocabulary we accept: pair keys pack two ids as a * 2^20 + b in a safe integer. */
export const MAX_VOCAB = 1 << 20;

/** Packs an adjacent pair of ids into one map key (ids < 2^20). */
export function pairKey(a: number, b: number): number {
  return a * MAX_VOCAB + b;
}

/**
 * The growing BPE vocabulary, shared by training and by loading merges so the two agree on ids.
 * Ids 0..255 are the bytes, each merge then yields the id of its concatenation: a new id (next in
 * line) unless that string is already a token, in which case the merge reuses it (rare, but BPE can
 * reach one string as "ab"+"c" and as "a"+"bc"; token strings stay unique, as GGUF needs).
 */
export class VocabBuilder {
  readonly strings: string[] = [...BYTE_TO_UNICODE];
  /** mergeResult[r] is the id that merge r produces. */
  readonly mergeResult: number[] = [];
  readonly mergePairs: [number, number][] = [];
  private readonly idOf = new Map<string, number>(BYTE_TO_UNICODE.map((s, i) => [s, i]));

  get size(): number {
    return this.strings.length;
  }

  idOfString(s: string): number | undefined {
    return this.idOf.get(s);
  }

  /** Records merge (a, b) at the next rank and returns the id it produces. */
  addMerge(a: number, b: number): number {
    const s = this.strings[a]! + this.strings[b]!;
    let id = this.idOf.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.idOf.set(s, id);
    }
    this.mergePairs.push([a, b]);
    this.mergeResult.push(id);
    return id;
  }
}
