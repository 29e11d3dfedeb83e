/**
 * Reading Arrow IPC bytes without trusting their structure. On a corrupt file apache-arrow can walk the
 * same message forever or allocate without bound (both found by the reader fuzz, test/fuzz/), so a file
 * we did not checksum ourselves is decoded in a child process (arrow-decode.mjs) with a memory limit and
 * a deadline: a crash, an exhausted heap or an overrun is an InputError naming the file, like every other
 * corruption. Files whose checksum we wrote and checked (token shards: src/format/shards.ts) are decoded
 * in process. What comes back is plain typed arrays per column, never arrow objects.
 */
import { spawnSync } from 'node:child_process';
import { deserialize } from 'node:v8';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import { decodeArrow } from './arrow-decode.mjs';

export interface ArrowReadOptions {
  /** Record batches allowed (default: as many as the bytes could hold at 8 bytes each). */
  maxBatches?: number;
  /** Also accept the IPC stream format (corpora from other tools); default: the file format only. */
  stream?: boolean;
  /** The bytes are exactly what we wrote (their checksum matched): decode in this process. */
  trusted?: boolean;
}

/** One column: arrow's type as text ("Int32", "Utf8", ...) and its chunks' raw buffers. */
export interface ArrowColumn {
  name: string;
  type: string;
  length: number;
  nullCount: number;
  chunks: { length: number; nullCount: number; offset: number; values: ArrayBufferView | null; offsets: Int32Array | BigInt64Array | null; validity: Uint8Array | null }[];
}

export interface ArrowTableData {
  numRows: number;
  metadata: Map<string, string>;
  columns: Map<string, ArrowColumn>;
}

const DECODER = path.join(packageRoot(), 'src', 'format', 'arrow-decode.mjs');

/** Decodes `bytes` (read from `file`); any corruption, crash, overrun or exhaustion is an InputError naming `file`. */
export function readArrowTable(bytes: Uint8Array, file: string, opts: ArrowReadOptions = {}): ArrowTableData {
  const what = opts.stream ? 'Arrow IPC file or stream' : 'Arrow IPC file';
  const o = { stream: opts.stream ?? false, maxBatches: opts.maxBatches ?? Math.max(1, Math.floor(bytes.length / 8)) };
  let reply: { ok: true; numRows: number; metadata: [string, string][]; columns: ArrowColumn[] } | { ok: false; error: string };
  if (opts.trusted) {
    try {
      reply = { ok: true, ...decodeArrow(bytes, o) };
    } catch (e) {
      reply = { ok: false, error: (e as Error).message };
    }
  } else {
    // Decoding runs at hundreds of MB/s and needs a few times the file in memory: generous limits.
    const mb = Math.ceil(256 + (8 * bytes.length) / 2 ** 20);
    const timeout = Math.ceil(10_000 + bytes.length / 1e4);
    const r = spawnSync(process.execPath, [`--max-old-space-size=${mb}`, DECODER, JSON.stringify(o)], { input: bytes, timeout, maxBuffer: 16 * bytes.length + (64 << 20) });
    if (r.status !== 0 || r.error) {
      const why = r.error?.message.includes('ETIMEDOUT') || r.signal === 'SIGTERM' ? `decoding did not finish in ${(timeout / 1000).toFixed(0)} s` : `the decoder stopped (${r.signal ?? `exit ${r.status}`}${/heap|memory/i.test(String(r.stderr)) ? ': out of memory' : ''})`;
      throw new InputError(file, `corrupt ${what}: ${why}`);
    }
    reply = deserialize(r.stdout) as typeof reply;
  }
  if (!reply.ok) throw new InputError(file, `corrupt or truncated ${what} (${reply.error})`);
  return { numRows: reply.numRows, metadata: new Map(reply.metadata), columns: new Map(reply.columns.map((c) => [c.name, c])) };
}

type NumericArray = Int32Array | Uint8Array | Float64Array | Float32Array | Int8Array | Uint16Array | Int16Array | Uint32Array;

/** The values of a fixed-width column without nulls, its chunks joined, checked against its declared type and lengths. */
export function columnValues<T extends NumericArray>(file: string, col: ArrowColumn, type: string, Kind: { new (n: number): T }): T {
  if (col.type !== type) throw new InputError(file, `column ${col.name} is ${col.type}, expected ${type}`);
  if (col.nullCount > 0) throw new InputError(file, `null values in column ${col.name}`);
  const out = new Kind(col.length);
  let at = 0;
  for (const c of col.chunks) {
    const v = c.values as T | null;
    if (v === null || !(v instanceof Kind) || c.offset < 0 || c.offset + c.length > v.length || at + c.length > col.length)
      throw new InputError(file, `column ${col.name}: a chunk's buffer is shorter than its length`);
    out.set(v.subarray(c.offset, c.offset + c.length) as unknown as ArrayLike<number>, at);
    at += c.length;
  }
  if (at !== col.length) throw new InputError(file, `column ${col.name}: chunks hold ${at} values, the column ${col.length}`);
  return out;
}
