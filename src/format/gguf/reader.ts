/**
 * GGUF reader (versions 2 and 3, little-endian). `openGGUF(path)` parses and validates the whole header
 * (KVs and tensor infos) before returning, reading it through a small window of the file; tensor data is
 * read only on request, one tensor at a time, straight from the file descriptor. The file is never read
 * whole, so an 800 MB model loads with peak memory near the size of what the caller keeps.
 *
 * Everything read is checked against the file before it is used: magic, version, KV and tensor counts
 * (each entry needs a minimum number of bytes), every string and array length against the bytes that
 * remain, value and element types, array nesting depth, general.alignment (u32, power of two, multiple
 * of 8), tensor names (length, duplicates), 1 to 4 dimensions each >= 1 with fewer than 2^53 elements,
 * the ggml type, ne0 a multiple of the block size, offsets aligned, in bounds and not overlapping.
 * Every problem is an InputError(path, one line); a hostile file can neither hang the reader nor make it
 * allocate more than the file's size.
 */
import fs from 'node:fs';
import { InputError } from '../../errors.ts';
import { openParsed, readFully } from '../io.ts';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_MAX_NAME_BYTES,
  GGUF_READ_VERSIONS,
  Keys,
  ggmlTypeById,
  typeByteLength,
  minValueBytes,
  valueTypeName,
  type GGUFBigIntTypeName,
  type GGUFNumberTypeName,
  type GGUFValueTypeName,
} from './constants.ts';
import { NUMERIC_ARRAY_CTORS, type GGUFArray, type GGUFValue } from './value.ts';
import { lazyStringArray, stringTableOf, StringTableBuilder, type StringTable } from './strings.ts';

/** Nested arrays deeper than this are refused (no real file nests at all; this bounds recursion). */
const MAX_ARRAY_DEPTH = 8;
/** Header bytes before the first KV: magic, version, tensor count, KV count. */
const HEADER_BYTES = 24;
/** Fewest bytes a KV pair takes: key length, a 1-byte key, value type, a 1-byte value. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
/** Fewest bytes a tensor info takes: name length, a 1-byte name, n_dims, one dim, type, offset. */
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8;
const WINDOW = 1 << 20;

export interface GGUFTensorInfo {
  readonly name: string;
  /** Dimensions in ggml order: ne[0] is the row length (for a PyTorch (out, in) matrix: [in, out]). */
  readonly ne: readonly number[];
  /** ggml type id. */
  readonly type: number;
  readonly typeName: string;
  /** Absolute byte offset of the tensor's data in the file. */
  readonly offset: number;
  readonly byteLength: number;
  readonly nElements: number;
}

/** Short printable form of a string from the file, safe on one line. */
function q(s: string): string {
  const j = JSON.stringify(s);
  return j.length > 66 ? `${j.slice(0, 60)}..."` : j;
}


/**
 * What a read is, for its error message: a string, or a function that makes it only when a read fails
 * (a vocabulary is 100 K+ strings and as many numbers: a message per element made ~30 MB of garbage at
 * load, which was most of the engine's RSS above file + KV cache).
 */
type What = string | (() => string);
const say = (w: What): string => (typeof w === 'string' ? w : w());

/** Sequential little-endian reads from a file through a window buffer, every read bounds-checked. */
class Cursor {
  pos = 0;
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  /** The window as a Buffer, whose toString decodes a range without a view object per string. */
  private text = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly file: string,
  ) {}

  fail(problem: string): never {
    throw new InputError(this.file, problem);
  }

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Makes [pos, pos + n) available in the window and returns its start index there. */
  private take(n: number, what: What): number {
    if (n > this.remaining) {
      this.fail(`truncated: ${say(what)} at offset ${this.pos} needs ${n} bytes, only ${this.remaining} remain`);
    }
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, WINDOW), this.size - this.pos);
      const buf = readFully(this.fd, new Uint8Array(len), this.pos, this.file, 'the header');
      this.buf = buf;
      this.view = new DataView(buf.buffer);
      this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  // `take` runs first: it may replace the window that `this.view` refers to.
  u8(what: What): number { const at = this.take(1, what); return this.view.getUint8(at); }
  i8(what: What): number { const at = this.take(1, what); return this.view.getInt8(at); }
  u16(what: What): number { const at = this.take(2, what); return this.view.getUint16(at, true); }
  i16(what: What): number { const at = this.take(2, what); return this.view.getInt16(at, true); }
  u32(what: What): number { const at = this.take(4, what); return this.view.getUint32(at, true); }
  i32(what: What): number { const at = this.take(4, what); return this.view.getInt32(at, true); }
  f32(what: What): number { const at = this.take(4, what); return this.view.getFloat32(at, true); }
  f64(what: What): number { const at = this.take(8, what); return this.view.getFloat64(at, true); }
  u64(what: What): bigint { const at = this.take(8, what); return this.view.getBigUint64(at, true); }
  i64(what: What): bigint { const at = this.take(8, what); return this.view.getBigInt64(at, true); }

  /** One element of a numeric array (no value object per element). */
  number(type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64', what: What): number {
    switch (type) {
      case 'u8': return this.u8(what);
      case 'i8': return this.i8(what);
      case 'u16': return this.u16(what);
      case 'i16': return this.i16(what);
      case 'u32': return this.u32(what);
      case 'i32': return this.i32(what);
      case 'f32': return this.f32(what);
      case 'f64': return this.f64(what);
    }
  }

  /** A u64 count or length that must fit in what remains at `minBytesEach` bytes per unit. */
  count(what: What, minBytesEach: number): number {
    const at = this.pos;
    const n = this.u64(what);
    if (n * BigInt(minBytesEach) > BigInt(this.remaining)) {
      this.fail(`${say(what)} ${n} at offset ${at} is larger than the ${this.remaining} bytes that remain`);
    }
    return Number(n);
  }

  string(what: What): string {
    const len = this.count(() => `${say(what)} length`, 1);
    const at = this.take(len, what);
    // Buffer's UTF-8 decoding keeps a leading U+FEFF (LLaMA-2 has the token "\uFEFF"; stripped, it
    // would be empty) and replaces invalid bytes with U+FFFD as TextDecoder does (tested), without
    // a subarray object per string.
    return this.text.toString('utf8', at, at + len);
  }

  /** One string's bytes appended to `out`, no JS string made (string arrays: ./strings.ts says why). */
  stringInto(out: StringTableBuilder, what: What): void {
    const len = this.count(() => `${say(what)} length`, 1);
    const at = this.take(len, what);
    out.addBytes(this.buf, at, at + len);
  }
}

function readValue(c: Cursor, type: GGUFValueTypeName, key: string, depth: number, what: What = () => `value of ${q(key)}`): GGUFValue {
  switch (type) {
    case 'u8': return { type, value: c.u8(what) };
    case 'i8': return { type, value: c.i8(what) };
    case 'u16': return { type, value: c.u16(what) };
    case 'i16': return { type, value: c.i16(what) };
    case 'u32': return { type, value: c.u32(what) };
    case 'i32': return { type, value: c.i32(what) };
    case 'f32': return { type, value: c.f32(what) };
    case 'f64': return { type, value: c.f64(what) };
    case 'u64': return { type, value: c.u64(what) };
    case 'i64': return { type, value: c.i64(what) };
    case 'bool': {
      const at = c.pos;
      const b = c.u8(what);
      if (b > 1) c.fail(`bool ${say(what)} at offset ${at} is ${b}, expected 0 or 1`);
      return { type, value: b === 1 };
    }
    case 'string': return { type, value: c.string(what) };
    case 'array': return { type, value: readArray(c, key, depth + 1) };
  }
}

function readArray(c: Cursor, key: string, depth: number): GGUFArray {
  if (depth > MAX_ARRAY_DEPTH) c.fail(`array ${q(key)} nests deeper than ${MAX_ARRAY_DEPTH} levels`);
  const at = c.pos;
  const typeId = c.u32(`array element type of ${q(key)}`);
  const elemType = valueTypeName(typeId);
  if (elemType === undefined) c.fail(`array ${q(key)} at offset ${at} has unknown element type ${typeId}`);
  const n = c.count(`element count of array ${q(key)}`, minValueBytes(elemType));
  // One description per array, reading the element index when a read fails.
  let i = 0;
  const element: What = () => `element ${i} of ${q(key)}`;
  if (elemType === 'string') {
    const b = new StringTableBuilder(n, n * 8);
    for (; i < n; i++) c.stringInto(b, element);
    return lazyStringArray(b.finish());
  }
  if (elemType === 'array') {
    const items: GGUFArray[] = [];
    for (; i < n; i++) items.push(readArray(c, key, depth + 1));
    return { elemType, items };
  }
  if (elemType === 'bool') {
    const items: boolean[] = [];
    for (; i < n; i++) items.push((readValue(c, 'bool', key, depth, element) as { value: boolean }).value);
    return { elemType, items };
  }
  if (elemType === 'u64' || elemType === 'i64') {
    const items = new NUMERIC_ARRAY_CTORS[elemType](n);
    for (; i < n; i++) items[i] = elemType === 'u64' ? c.u64(element) : c.i64(element);
    return { elemType, items };
  }
  const items = new NUMERIC_ARRAY_CTORS[elemType](n);
  for (; i < n; i++) items[i] = c.number(elemType, element);
  return { elemType, items };
}

const NUMBER_TYPES = new Set<string>(['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'f64']);

/** An open GGUF file: validated header, typed metadata getters, tensor reads by name. */
export class GGUFFile {
  private fd: number | undefined;

  /** @internal use openGGUF */
  constructor(
    fd: number,
    readonly path: string,
    readonly version: number,
    readonly alignment: number,
    readonly kv: ReadonlyMap<string, GGUFValue>,
    readonly tensors: readonly GGUFTensorInfo[],
    readonly dataOffset: number,
    readonly fileSize: number,
  ) {
    this.fd = fd;
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  private readonly byName: Map<string, GGUFTensorInfo>;

  /** The open file descriptor, for a caller that maps the file (src/infer/mapped.ts); an error once closed. */
  get descriptor(): number {
    if (this.fd === undefined) throw new Error(`GGUFFile ${this.path}: already closed`);
    return this.fd;
  }

  private fail(problem: string): never {
    throw new InputError(this.path, problem);
  }

  has(key: string): boolean {
    return this.kv.has(key);
  }

  /** The value of `key`, checked to be one of `types`; `fallback` (when given) if the key is absent. */
  private get(key: string, types: readonly string[], fallback?: unknown): GGUFValue | undefined {
    const v = this.kv.get(key);
    if (v === undefined) {
      if (fallback !== undefined) return undefined;
      this.fail(`missing metadata key ${key}`);
    }
    if (!types.includes(v.type)) this.fail(`metadata key ${key} is ${v.type}, expected ${types.join(' or ')}`);
    return v;
  }

  private getNum(key: string, type: GGUFNumberTypeName, fallback?: number): number {
    const v = this.get(key, [type], fallback);
    return v === undefined ? fallback! : (v.value as number);
  }

  getU8(key: string, fallback?: number): number { return this.getNum(key, 'u8', fallback); }
  getI8(key: string, fallback?: number): number { return this.getNum(key, 'i8', fallback); }
  getU16(key: string, fallback?: number): number { return this.getNum(key, 'u16', fallback); }
  getI16(key: string, fallback?: number): number { return this.getNum(key, 'i16', fallback); }
  getU32(key: string, fallback?: number): number { return this.getNum(key, 'u32', fallback); }
  getI32(key: string, fallback?: number): number { return this.getNum(key, 'i32', fallback); }
  getF32(key: string, fallback?: number): number { return this.getNum(key, 'f32', fallback); }
  getF64(key: string, fallback?: number): number { return this.getNum(key, 'f64', fallback); }

  private getBig(key: string, type: GGUFBigIntTypeName, fallback?: bigint): bigint {
    const v = this.get(key, [type], fallback);
    return v === undefined ? fallback! : (v.value as bigint);
  }

  getU64(key: string, fallback?: bigint): bigint { return this.getBig(key, 'u64', fallback); }
  getI64(key: string, fallback?: bigint): bigint { return this.getBig(key, 'i64', fallback); }

  getBool(key: string, fallback?: boolean): boolean {
    const v = this.get(key, ['bool'], fallback);
    return v === undefined ? fallback! : (v.value as boolean);
  }

  getString(key: string, fallback?: string): string {
    const v = this.get(key, ['string'], fallback);
    return v === undefined ? fallback! : (v.value as string);
  }

  /**
   * Any numeric value as a number (files from other writers differ in integer widths): 64-bit values
   * must be safe integers.
   */
  getNumber(key: string, fallback?: number): number {
    const v = this.get(key, [...NUMBER_TYPES, 'u64', 'i64'], fallback);
    if (v === undefined) return fallback!;
    if (typeof v.value === 'bigint') {
      const n = Number(v.value);
      if (!Number.isSafeInteger(n)) this.fail(`metadata key ${key} = ${v.value} is too large`);
      return n;
    }
    return v.value as number;
  }

  /** An array value, optionally checked to have elements of `elemType`. */
  getArray(key: string, elemType?: GGUFValueTypeName): GGUFArray {
    const v = this.get(key, ['array']) as { value: GGUFArray };
    if (elemType !== undefined && v.value.elemType !== elemType) {
      this.fail(`metadata key ${key} is an array of ${v.value.elemType}, expected ${elemType}`);
    }
    return v.value;
  }

  getStringArray(key: string): readonly string[] {
    return this.getArray(key, 'string').items as readonly string[];
  }

  /** A string array as bytes and offsets, without a JS string per element (./strings.ts). */
  getStringTable(key: string): StringTable {
    return stringTableOf(this.getArray(key, 'string') as GGUFArray & { elemType: 'string' });
  }

  tensor(name: string): GGUFTensorInfo {
    const t = this.byName.get(name);
    if (!t) this.fail(`no tensor named ${q(name)}`);
    return t;
  }

  hasTensor(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * Reads one tensor's bytes from the file (only that tensor). Into `target` when given (it must have
   * exactly the tensor's byte length), else into a new Uint8Array.
   */
  readTensor(name: string, target?: Uint8Array): Uint8Array {
    const t = this.tensor(name);
    if (this.fd === undefined) throw new Error(`GGUF file ${this.path} is closed`);
    const out = target ?? new Uint8Array(t.byteLength);
    if (out.length !== t.byteLength) {
      throw new RangeError(`readTensor(${name}): target has ${out.length} bytes, tensor has ${t.byteLength}`);
    }
    return readFully(this.fd, out, t.offset, this.path, `tensor ${q(name)}`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function parse(fd: number, path: string, size: number): GGUFFile {
  const c: Cursor = new Cursor(fd, size, path);
  if (size < HEADER_BYTES) c.fail(`truncated: ${size} bytes, a GGUF header needs ${HEADER_BYTES}`);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const hex = magic.toString(16).padStart(8, '0').match(/../g)!.reverse().join(' ');
    c.fail(`not a GGUF file: magic bytes ${hex}, expected 47 47 55 46 ("GGUF")`);
  }
  const version = c.u32('version');
  if (!GGUF_READ_VERSIONS.includes(version)) {
    const swapped = ((version & 0xff) << 24 | (version & 0xff00) << 8 | (version >>> 8) & 0xff00 | version >>> 24) >>> 0;
    const hint = GGUF_READ_VERSIONS.includes(swapped) ? ' (a big-endian file, unsupported)' : '';
    c.fail(`unsupported GGUF version ${version}${hint}, this reader reads ${GGUF_READ_VERSIONS.join(' and ')}`);
  }
  const nTensorsBig = c.u64('tensor count');
  const nKvBig = c.u64('KV count');
  const body = BigInt(size - HEADER_BYTES);
  if (nTensorsBig * BigInt(MIN_TENSOR_INFO_BYTES) + nKvBig * BigInt(MIN_KV_BYTES) > body) {
    c.fail(`tensor count ${nTensorsBig} and KV count ${nKvBig} cannot fit in ${size} bytes`);
  }
  const nTensors = Number(nTensorsBig);
  const nKv = Number(nKvBig);

  const kv = new Map<string, GGUFValue>();
  for (let i = 0; i < nKv; i++) {
    const at = c.pos;
    const key = c.string(`key of KV ${i}`);
    if (key.length === 0) c.fail(`KV ${i} at offset ${at} has an empty key`);
    if (kv.has(key)) c.fail(`duplicate metadata key ${q(key)} at offset ${at}`);
    const typeAt = c.pos;
    const typeId = c.u32(`value type of ${q(key)}`);
    const type = valueTypeName(typeId);
    if (type === undefined) c.fail(`metadata key ${q(key)} has unknown value type ${typeId} at offset ${typeAt}`);
    kv.set(key, readValue(c, type, key, 0));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const a = kv.get(Keys.general.alignment);
  if (a !== undefined) {
    if (a.type !== 'u32') c.fail(`general.alignment is ${a.type}, expected u32`);
    alignment = a.value;
    if (alignment < 8 || (alignment & (alignment - 1)) !== 0) {
      c.fail(`general.alignment ${alignment} is not a power of two >= 8`);
    }
  }

  interface Raw { name: string; ne: number[]; type: number; typeName: string; rel: bigint; byteLength: number; nElements: number }
  const raw: Raw[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const at = c.pos;
    const name = c.string(`name of tensor ${i}`);
    const nameBytes = Buffer.byteLength(name, 'utf8');
    if (nameBytes === 0 || nameBytes > GGUF_MAX_NAME_BYTES) {
      c.fail(`tensor ${i} at offset ${at} has a name of ${nameBytes} bytes, allowed 1 to ${GGUF_MAX_NAME_BYTES}`);
    }
    if (names.has(name)) c.fail(`duplicate tensor name ${q(name)} at offset ${at}`);
    names.add(name);
    const nDims = c.u32(`dimension count of ${q(name)}`);
    if (nDims < 1 || nDims > GGUF_MAX_DIMS) c.fail(`tensor ${q(name)} has ${nDims} dimensions, allowed 1 to ${GGUF_MAX_DIMS}`);
    const ne: number[] = [];
    let n = 1n;
    for (let d = 0; d < nDims; d++) {
      const v = c.u64(`dimension ${d} of ${q(name)}`);
      if (v < 1n) c.fail(`tensor ${q(name)} has dimension ${d} = ${v}, expected >= 1`);
      n *= v;
      if (n >= 2n ** 53n) c.fail(`tensor ${q(name)} has 2^53 or more elements`);
      ne.push(Number(v));
    }
    const type = c.u32(`type of ${q(name)}`);
    const info = ggmlTypeById(type);
    if (!info) c.fail(`tensor ${q(name)} has unknown ggml type ${type}`);
    if (ne[0]! % info.blockSize !== 0) {
      c.fail(`tensor ${q(name)}: ne0 = ${ne[0]} is not a multiple of the ${info.name} block size ${info.blockSize}`);
    }
    const nElements = Number(n);
    const byteLength = typeByteLength(info, nElements);
    const rel = c.u64(`offset of ${q(name)}`);
    if (rel % BigInt(alignment) !== 0n) c.fail(`tensor ${q(name)} offset ${rel} is not a multiple of the alignment ${alignment}`);
    raw.push({ name, ne, type, typeName: info.name, rel, byteLength, nElements });
  }

  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  if (nTensors > 0 && dataOffset > size) c.fail(`truncated: the data section would start at ${dataOffset}, past the end (${size} bytes)`);
  const tensors: GGUFTensorInfo[] = raw.map((r) => {
    const end = BigInt(dataOffset) + r.rel + BigInt(r.byteLength);
    if (end > BigInt(size)) {
      c.fail(`tensor ${q(r.name)} (${r.typeName} [${r.ne.join(', ')}], ${r.byteLength} bytes at data offset ${r.rel}) ends at ${end}, past the end of the file (${size} bytes)`);
    }
    return {
      name: r.name, ne: r.ne, type: r.type, typeName: r.typeName,
      offset: dataOffset + Number(r.rel), byteLength: r.byteLength, nElements: r.nElements,
    };
  });
  const sorted = [...tensors].sort((x, y) => x.offset - y.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const t = sorted[i]!;
    if (t.offset < prev.offset + prev.byteLength) c.fail(`tensors ${q(prev.name)} and ${q(t.name)} overlap`);
  }
  return new GGUFFile(fd, path, version, alignment, kv, tensors, dataOffset, size);
}

/**
 * Opens and validates a GGUF file. The returned object keeps a file descriptor for `readTensor`;
 * call `close()` when done. Throws InputError(path, problem) on anything wrong with the file.
 */
export function openGGUF(path: string): GGUFFile {
  return openParsed(path, (fd, size) => parse(fd, path, size));
}
