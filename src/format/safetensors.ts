/**
 * safetensors read/write (huggingface/safetensors format): u64 LE header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}` padded with
 * spaces to a multiple of 8, then the data buffer, offsets relative to its start.
 *
 * The writer streams each tensor to a temporary sibling file and renames it into place (checkpoints
 * never appear half-written). The reader validates the header against the file before it reads data:
 * header length, JSON shape, known dtypes, shape product x dtype size = byte length, offsets in bounds
 * and covering the data buffer contiguously without overlap. Problems are InputError(path, one line).
 * F16 and BF16 tensors come back as raw Uint16Array bits; converting them is the caller's business.
 */
import fs from 'node:fs';
import { InputError } from '../errors.ts';
import { createAtomicFile } from './atomic.ts';
import { openParsed, readFully, writeFully } from './io.ts';

export const SAFETENSORS_DTYPE_SIZE = {
  BOOL: 1, U8: 1, I8: 1, U16: 2, I16: 2, F16: 2, BF16: 2, U32: 4, I32: 4, F32: 4, U64: 8, I64: 8, F64: 8,
} as const;
export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_SIZE;

export type SafetensorsArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigUint64Array | BigInt64Array;

const ARRAY_CTORS = {
  BOOL: Uint8Array, U8: Uint8Array, I8: Int8Array, U16: Uint16Array, I16: Int16Array, F16: Uint16Array,
  BF16: Uint16Array, U32: Uint32Array, I32: Int32Array, F32: Float32Array, U64: BigUint64Array,
  I64: BigInt64Array, F64: Float64Array,
} as const;

/** The header JSON may not exceed this (the Rust reference refuses more than 100 MB as well). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensorIn {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** The tensor's bytes: any typed array (its bytes are written as they are in memory, little-endian). */
  data: ArrayBufferView;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Writes tensors (in the given order) and string metadata to `path`, atomically. Throws a plain Error
 * on a caller bug: duplicate or reserved name, unknown dtype, a data size that does not match
 * shape x dtype size.
 */
export function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorIn[],
  metadata: Readonly<Record<string, string>> = {},
): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`safetensors ${path}: metadata ${k} must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) {
      throw new Error(`safetensors ${path}: duplicate or reserved tensor name ${t.name}`);
    }
    const size = SAFETENSORS_DTYPE_SIZE[t.dtype];
    if (size === undefined) throw new Error(`safetensors ${path}: unknown dtype ${t.dtype} for ${t.name}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`safetensors ${path}: bad shape [${t.shape.join(', ')}] for ${t.name}`);
    }
    const bytes = elementCount(t.shape) * size;
    if (bytes !== t.data.byteLength) {
      throw new Error(`safetensors ${path}: ${t.name} is ${t.dtype} [${t.shape.join(', ')}] = ${bytes} bytes, data has ${t.data.byteLength}`);
    }
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);

  const f = createAtomicFile(path);
  try {
    writeFully(f.fd, head);
    for (const t of tensors) writeFully(f.fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    f.commit();
  } catch (e) {
    f.abort();
    throw e;
  }
}

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

/** An open safetensors file: validated header, tensors read one at a time from the descriptor. */
export class SafetensorsFile {
  private fd: number | undefined;
  private readonly byName: Map<string, SafetensorsTensorInfo>;

  /** @internal use openSafetensors */
  constructor(
    fd: number,
    readonly path: string,
    readonly metadata: Readonly<Record<string, string>>,
    readonly tensors: readonly SafetensorsTensorInfo[],
  ) {
    this.fd = fd;
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  tensor(name: string): SafetensorsTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new InputError(this.path, `no tensor named ${JSON.stringify(name)}`);
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A fresh typed array (of the dtype's array type; F16/BF16 as Uint16Array bits) with the tensor's data. */
  read(name: string): SafetensorsArray {
    const t = this.tensor(name);
    const Ctor = ARRAY_CTORS[t.dtype];
    const out = new Ctor(t.byteLength / SAFETENSORS_DTYPE_SIZE[t.dtype]);
    if (this.fd === undefined) throw new Error(`safetensors file ${this.path} is closed`);
    readFully(this.fd, new Uint8Array(out.buffer), t.offset, this.path, `tensor ${JSON.stringify(t.name)}`);
    return out;
  }

  /** Reads a tensor as Float32Array, refusing any other dtype. */
  readF32(name: string): Float32Array {
    const t = this.tensor(name);
    if (t.dtype !== 'F32') throw new InputError(this.path, `tensor ${JSON.stringify(name)} is ${t.dtype}, expected F32`);
    return this.read(name) as Float32Array;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseHeader(path: string, fd: number, size: number): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new InputError(path, problem);
  };
  if (size < 8) fail(`truncated: ${size} bytes, a safetensors file needs at least 8`);
  const n = readFully(fd, Buffer.alloc(8), 0, path, 'the header length').readBigUInt64LE(0);
  if (n > BigInt(size - 8)) fail(`header length ${n} is larger than the ${size - 8} bytes after it`);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerLen = Number(n);
  const headBuf = Buffer.alloc(headerLen);
  readFully(fd, headBuf, 8, path, 'the header');
  let header: unknown;
  try {
    header = JSON.parse(headBuf.toString('utf8'));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isRecord(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataSize = size - dataStart;
  let metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    const qn = JSON.stringify(name);
    if (name === '__metadata__') {
      if (!isRecord(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        fail('__metadata__ must be an object of strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isRecord(entry)) fail(`tensor ${qn}: entry is not an object`);
    const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_SIZE, dtype)) {
      fail(`tensor ${qn}: unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${qn}: shape ${JSON.stringify(shape)} is not a list of integers >= 0`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1]) {
      fail(`tensor ${qn}: data_offsets ${JSON.stringify(offs)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataSize) fail(`tensor ${qn}: data_offsets [${begin}, ${end}] go past the ${dataSize}-byte data buffer`);
    const dt = dtype as SafetensorsDType;
    const count = elementCount(shape as number[]);
    if (!Number.isSafeInteger(count) || count * SAFETENSORS_DTYPE_SIZE[dt] !== end - begin) {
      fail(`tensor ${qn}: ${dt} [${(shape as number[]).join(', ')}] needs ${count * SAFETENSORS_DTYPE_SIZE[dt]} bytes, data_offsets give ${end - begin}`);
    }
    tensors.push({ name, dtype: dt, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let expect = dataStart;
  for (const t of sorted) {
    if (t.offset !== expect) {
      fail(`tensor ${JSON.stringify(t.name)} starts at data offset ${t.offset - dataStart}, expected ${expect - dataStart} (tensors must be contiguous, not overlapping)`);
    }
    expect = t.offset + t.byteLength;
  }
  if (expect !== size) fail(`the data buffer has ${size - expect} bytes that no tensor covers`);
  return new SafetensorsFile(fd, path, metadata, tensors);
}

/** Opens and validates a safetensors file; call `close()` when done. */
export function openSafetensors(path: string): SafetensorsFile {
  return openParsed(path, (fd, size) => parseHeader(path, fd, size));
}

/** Reads every tensor of a safetensors file into memory (for checkpoints of the sizes we train). */
export function readSafetensors(path: string): {
  metadata: Readonly<Record<string, string>>;
  tensors: Map<string, { dtype: SafetensorsDType; shape: readonly number[]; data: SafetensorsArray }>;
} {
  const f = openSafetensors(path);
  try {
    const tensors = new Map<string, { dtype: SafetensorsDType; shape: readonly number[]; data: SafetensorsArray }>();
    for (const t of f.tensors) tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: f.read(t.name) });
    return { metadata: f.metadata, tensors };
  } finally {
    f.close();
  }
}
