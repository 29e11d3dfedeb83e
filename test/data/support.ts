/** Test helpers for test/data: temp directories and a minimal Parquet writer (no writer is installed). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bitnet-data-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// Thrift compact protocol, just what Parquet's footer and page header need.
type Field = [id: number, type: 'i32' | 'i64' | 'bin' | 'list' | 'struct', value: unknown];
const T = { i32: 5, i64: 6, bin: 8, list: 9, struct: 12 } as const;

function varint(out: number[], n: bigint): void {
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
}
const zigzag = (n: number) => (BigInt(n) << 1n) ^ (BigInt(n) < 0n ? -1n : 0n);

function value(out: number[], type: Field[1], v: unknown): void {
  if (type === 'i32' || type === 'i64') varint(out, zigzag(v as number));
  else if (type === 'bin') {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : (v as Uint8Array);
    varint(out, BigInt(b.length));
    out.push(...b);
  } else if (type === 'struct') struct(out, v as Field[]);
  else {
    const [elem, items] = v as [Field[1], unknown[]];
    out.push((items.length << 4) | T[elem]);
    for (const it of items) value(out, elem, it);
  }
}

function struct(out: number[], fields: Field[]): void {
  let last = 0;
  for (const [id, type, v] of fields) {
    out.push(((id - last) << 4) | T[type]);
    last = id;
    value(out, type, v);
  }
  out.push(0);
}

/**
 * A Parquet file with one REQUIRED BYTE_ARRAY column `name` (UTF8 annotated unless `utf8` is false),
 * one row group, one uncompressed PLAIN data page. `values` are raw bytes so tests can plant invalid
 * UTF-8.
 */
export function parquetFile(values: Uint8Array[], name = 'text', utf8 = true): Uint8Array {
  const data: number[] = [];
  for (const v of values) {
    data.push(v.length & 0xff, (v.length >> 8) & 0xff, (v.length >> 16) & 0xff, v.length >>> 24, ...v);
  }
  const header: number[] = [];
  struct(header, [
    [1, 'i32', 0],
    [2, 'i32', data.length],
    [3, 'i32', data.length],
    [5, 'struct', [[1, 'i32', values.length], [2, 'i32', 0], [3, 'i32', 3], [4, 'i32', 3]] as Field[]],
  ]);
  const chunk = [...header, ...data];
  const col: Field[] = [[1, 'i32', 6], [3, 'i32', 0], [4, 'bin', name]];
  if (utf8) col.push([6, 'i32', 0]);
  const footer: number[] = [];
  struct(footer, [
    [1, 'i32', 1],
    [2, 'list', ['struct', [[[4, 'bin', 'schema'], [5, 'i32', 1]], col]]],
    [3, 'i64', values.length],
    [4, 'list', ['struct', [[
      [1, 'list', ['struct', [[
        [2, 'i64', 4],
        [3, 'struct', [[1, 'i32', 6], [2, 'list', ['i32', [0]]], [3, 'list', ['bin', [name]]], [4, 'i32', 0], [5, 'i64', values.length], [6, 'i64', chunk.length], [7, 'i64', chunk.length], [9, 'i64', 4]]],
      ]]]],
      [2, 'i64', chunk.length],
      [3, 'i64', values.length],
    ]]]],
  ]);
  const len = footer.length;
  const magic = [0x50, 0x41, 0x52, 0x31];
  return Uint8Array.from([...magic, ...chunk, ...footer, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >>> 24, ...magic]);
}
