/**
 * Token bytes -> id over a StringTable: an open-addressing hash table of ids (FNV-1a over the UTF-8
 * bytes, linear probing), 4 bytes per slot at load factor <= 1/2, instead of a Map of 128 K+ JS
 * strings (what ../../format/gguf/strings.ts measured). Keys are bytes, as in llama.cpp, whose
 * token_to_id is a map of std::string: two tokens are the same only when their bytes are.
 */
import type { StringTable } from '../../format/gguf/index.ts';

const utf8 = new TextEncoder();

function fnv1a(b: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

export class TokenIds {
  /** id + 1 per slot, 0 when empty. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private scratch = new Uint8Array(256);

  /** `duplicate(first, second)` is called (and must throw) when two ids have the same bytes. */
  constructor(
    private readonly table: StringTable,
    duplicate: (first: number, second: number) => never,
  ) {
    let size = 16;
    while (size < table.length * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    const { bytes } = table;
    for (let id = 0; id < table.length; id++) {
      const s = table.start(id), e = table.end(id);
      let k = fnv1a(bytes, s, e) & this.mask;
      for (; this.slots[k] !== 0; k = (k + 1) & this.mask) {
        const other = this.slots[k]! - 1;
        if (this.equal(other, bytes, s, e)) duplicate(other, id);
      }
      this.slots[k] = id + 1;
    }
  }

  get size(): number {
    return this.table.length;
  }

  /** The id whose bytes are b[start, end), if any. */
  getBytes(b: Uint8Array, start = 0, end = b.length): number | undefined {
    for (let k = fnv1a(b, start, end) & this.mask; this.slots[k] !== 0; k = (k + 1) & this.mask) {
      const id = this.slots[k]! - 1;
      if (this.equal(id, b, start, end)) return id;
    }
    return undefined;
  }

  /** The id of the token whose bytes are the UTF-8 of `s` (a lone surrogate reads as U+FFFD, as TextEncoder writes it). */
  get(s: string): number | undefined {
    if (s.length * 3 > this.scratch.length) this.scratch = new Uint8Array(s.length * 3);
    const n = utf8.encodeInto(s, this.scratch).written;
    return this.getBytes(this.scratch, 0, n);
  }

  private equal(id: number, b: Uint8Array, start: number, end: number): boolean {
    const { bytes } = this.table;
    const s = this.table.start(id);
    if (this.table.end(id) - s !== end - start) return false;
    for (let i = 0; i < end - start; i++) if (bytes[s + i] !== b[start + i]) return false;
    return true;
  }
}
