/**
 * A GGUF string array as the file holds it: every string's UTF-8 bytes in one buffer, and offsets.
 *
 * Why not a JS string per element: a vocabulary is 32-256 K strings (tokens and merges), and as V8
 * strings, in an array and a Map, they were ~25 MB of a 2B4T engine's RSS (phase by phase: GGUF
 * header +18 MB, vocabulary +9 MB) that the kernels never touch. As bytes the same vocabulary is
 * ~3 MB, and a lookup by bytes is what llama.cpp does (its token strings are std::strings of bytes).
 * A string is made only when one is asked for (`text`).
 */
import type { GGUFArray } from './value.ts';

export class StringTable {
  /** @param offsets strings i spans bytes[offsets[i] .. offsets[i + 1]); length = count + 1. */
  constructor(
    readonly bytes: Uint8Array,
    readonly offsets: Uint32Array,
  ) {
    if (offsets.length < 1 || offsets[0] !== 0 || offsets[offsets.length - 1]! > bytes.length)
      throw new RangeError(`StringTable: offsets [${offsets[0]} .. ${offsets[offsets.length - 1]}] do not fit ${bytes.length} bytes`);
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  start(i: number): number {
    return this.offsets[i]!;
  }

  end(i: number): number {
    return this.offsets[i + 1]!;
  }

  /** String i, decoded as Buffer decodes (invalid bytes become U+FFFD, a leading U+FEFF is kept). */
  text(i: number): string {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`StringTable: index ${i} outside [0, ${this.length})`);
    return textOf(this.bytes, this.offsets[i]!, this.offsets[i + 1]!);
  }

  toArray(): string[] {
    const out = new Array<string>(this.length);
    for (let i = 0; i < out.length; i++) out[i] = textOf(this.bytes, this.offsets[i]!, this.offsets[i + 1]!);
    return out;
  }

  static of(strings: readonly string[]): StringTable {
    const b = new StringTableBuilder();
    for (const s of strings) b.addText(s);
    return b.finish();
  }
}

const utf8 = new TextEncoder();

const textOf = (bytes: Uint8Array, start: number, end: number): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', start, end);

/** Appends strings to a table: one buffer that doubles when full, offsets likewise. */
export class StringTableBuilder {
  private buf: Uint8Array;
  private off: Uint32Array;
  private n = 0;
  private used = 0;

  constructor(expectedStrings = 16, expectedBytes = 256) {
    this.buf = new Uint8Array(Math.max(16, expectedBytes));
    this.off = new Uint32Array(Math.max(2, expectedStrings + 1));
  }

  /** Appends bytes[start, end) as one string. */
  addBytes(bytes: Uint8Array, start: number, end: number): void {
    this.room(end - start);
    this.buf.set(bytes.subarray(start, end), this.used);
    this.used += end - start;
    this.close();
  }

  addText(s: string): void {
    this.room(s.length * 3); // a UTF-16 unit is at most 3 UTF-8 bytes
    this.used += utf8.encodeInto(s, this.buf.subarray(this.used)).written;
    this.close();
  }

  /** The table of what was added (copies trimmed to size). */
  finish(): StringTable {
    return new StringTable(this.buf.slice(0, this.used), this.off.slice(0, this.n + 1));
  }

  private room(bytes: number): void {
    if (this.used + bytes > 0xffffffff) throw new RangeError('StringTable: more than 4 GiB of strings');
    if (this.used + bytes > this.buf.length) {
      const grown = new Uint8Array(Math.min(0xffffffff, Math.max(this.buf.length * 2, this.used + bytes)));
      grown.set(this.buf.subarray(0, this.used));
      this.buf = grown;
    }
    if (this.n + 2 > this.off.length) {
      const grown = new Uint32Array(this.off.length * 2);
      grown.set(this.off);
      this.off = grown;
    }
  }

  private close(): void {
    this.off[++this.n] = this.used;
  }
}

const TABLES = new WeakMap<object, StringTable>();

/**
 * A string array value whose `items` are made from `table` on first use and kept: the reader's form,
 * so that code which wants strings (inspect, writers, tests) sees a plain array, and the engine, which
 * asks for the table (`stringTableOf`), never makes them.
 */
export function lazyStringArray(table: StringTable): GGUFArray & { elemType: 'string' } {
  let items: string[] | undefined;
  const a = { elemType: 'string' } as GGUFArray & { elemType: 'string' };
  Object.defineProperty(a, 'items', { enumerable: true, get: () => (items ??= table.toArray()) });
  TABLES.set(a, table);
  return a;
}

/** The table behind a string array: the reader's own, or one made from a plain array's strings. */
export function stringTableOf(a: GGUFArray & { elemType: 'string' }): StringTable {
  return TABLES.get(a) ?? StringTable.of(a.items);
}
