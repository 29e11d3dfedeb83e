/**
 * GGUF v3 writer: a phase state machine (metadata -> data -> done) that throws on misuse.
 *
 *   const w = new GGUFWriter('model.gguf');
 *   w.addString('general.architecture', 'bitnet');          // metadata phase: KVs and tensor
 *   w.addTensor('blk.0.attn_q.weight', [256, 256], GGMLType.TQ2_0); // declarations, any order
 *   await w.writeTensor('blk.0.attn_q.weight', bytes);      // data phase: declared order, one each
 *   await w.finish();                                        // fsync + rename onto model.gguf
 *
 * Only the header (KVs and tensor infos) is held in memory; tensor bytes go to the file as they come,
 * each padded to the alignment, so an 800 MB model never sits in memory at once. The file is written
 * under a temporary sibling name and renamed by `finish()`; `abort()` (or any failure while writing
 * data) removes it, so a half file never appears at the final path.
 *
 * Misuse is a bug in the caller, not bad input: it throws a plain Error (duplicate key or tensor name,
 * a KV after data started, a name over 63 bytes, more than 4 dimensions, a byte length that does not
 * match the type and shape, tensors written out of order or twice, `finish()` before all were written).
 */
import { createAtomicFile, type AtomicFile } from '../atomic.ts';
import { writeFully } from '../io.ts';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_MAX_NAME_BYTES,
  GGUF_WRITE_VERSION,
  GGUFValueType,
  Keys,
  ggmlTypeById,
  tensorByteLength,
  type GGUFBigIntTypeName,
  type GGUFNumberTypeName,
  type GGUFValueTypeName,
} from './constants.ts';
import { BIGINT_RANGES, INT_RANGES, type GGUFArray, type GGUFValue } from './value.ts';

/** Bytes of one tensor: a single buffer (any typed array is taken as its bytes) or a stream of chunks. */
export type TensorData = ArrayBufferView | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Little-endian byte accumulator for the header. */
class ByteBuilder {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private view = new DataView(this.cur.buffer);
  private pos = 0;
  length = 0;

  private room(n: number): void {
    if (this.pos + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.pos));
    this.cur = new Uint8Array(Math.max(1 << 16, n));
    this.view = new DataView(this.cur.buffer);
    this.pos = 0;
  }

  private step(n: number): number {
    this.room(n);
    const p = this.pos;
    this.pos += n;
    this.length += n;
    return p;
  }

  // step() may swap in a new buffer (and view), so it runs before this.view is read.
  private at(n: number): [DataView, number] {
    const p = this.step(n);
    return [this.view, p];
  }

  u8(v: number): void { const [d, p] = this.at(1); d.setUint8(p, v); }
  i8(v: number): void { const [d, p] = this.at(1); d.setInt8(p, v); }
  u16(v: number): void { const [d, p] = this.at(2); d.setUint16(p, v, true); }
  i16(v: number): void { const [d, p] = this.at(2); d.setInt16(p, v, true); }
  u32(v: number): void { const [d, p] = this.at(4); d.setUint32(p, v, true); }
  i32(v: number): void { const [d, p] = this.at(4); d.setInt32(p, v, true); }
  f32(v: number): void { const [d, p] = this.at(4); d.setFloat32(p, v, true); }
  f64(v: number): void { const [d, p] = this.at(8); d.setFloat64(p, v, true); }
  u64(v: bigint): void { const [d, p] = this.at(8); d.setBigUint64(p, v, true); }
  i64(v: bigint): void { const [d, p] = this.at(8); d.setBigInt64(p, v, true); }

  bytes(b: Uint8Array): void {
    const p = this.step(b.length);
    this.cur.set(b, p);
  }

  /** gguf_string: u64 byte length + UTF-8 bytes, no terminator. */
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(BigInt(b.length));
    this.bytes(b);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of [...this.chunks, this.cur.subarray(0, this.pos)]) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

function checkNumber(key: string, type: GGUFValueTypeName, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`GGUF key ${key}: ${type} value must be a number, got ${typeof v}`);
  const range = INT_RANGES[type];
  if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) {
    throw new RangeError(`GGUF key ${key}: ${v} is not a ${type}`);
  }
  return v;
}

function checkBigInt(key: string, type: GGUFBigIntTypeName, v: unknown): bigint {
  const b = typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v;
  if (typeof b !== 'bigint') throw new TypeError(`GGUF key ${key}: ${type} value must be a bigint or an integer`);
  const [lo, hi] = BIGINT_RANGES[type];
  if (b < lo || b > hi) throw new RangeError(`GGUF key ${key}: ${b} is not a ${type}`);
  return b;
}

function writeScalar(out: ByteBuilder, key: string, type: GGUFValueTypeName, v: unknown): void {
  switch (type) {
    case 'u8': return out.u8(checkNumber(key, type, v));
    case 'i8': return out.i8(checkNumber(key, type, v));
    case 'u16': return out.u16(checkNumber(key, type, v));
    case 'i16': return out.i16(checkNumber(key, type, v));
    case 'u32': return out.u32(checkNumber(key, type, v));
    case 'i32': return out.i32(checkNumber(key, type, v));
    case 'f32': return out.f32(checkNumber(key, type, v));
    case 'f64': return out.f64(checkNumber(key, type, v));
    case 'u64': return out.u64(checkBigInt(key, type, v));
    case 'i64': return out.i64(checkBigInt(key, type, v));
    case 'bool':
      if (typeof v !== 'boolean') throw new TypeError(`GGUF key ${key}: bool value must be a boolean`);
      return out.u8(v ? 1 : 0);
    case 'string':
      if (typeof v !== 'string') throw new TypeError(`GGUF key ${key}: string value must be a string`);
      return out.string(v);
    case 'array': return writeArray(out, key, v as GGUFArray);
  }
}

function writeArray(out: ByteBuilder, key: string, arr: GGUFArray): void {
  if (!(arr.elemType in GGUFValueType)) throw new TypeError(`GGUF key ${key}: unknown array element type ${arr.elemType}`);
  out.u32(GGUFValueType[arr.elemType]);
  out.u64(BigInt(arr.items.length));
  for (let i = 0; i < arr.items.length; i++) writeScalar(out, key, arr.elemType, arr.items[i]);
}

type Phase = 'meta' | 'data' | 'done';

interface TensorEntry {
  name: string;
  ne: number[];
  type: number;
  byteLength: number;
  offset: number;
}

function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function asBytes(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export interface GGUFWriterOptions {
  /** Data alignment (a power of two, multiple of 8); written as general.alignment when not 32. */
  alignment?: number;
}

export class GGUFWriter {
  readonly alignment: number;
  private phase: Phase = 'meta';
  private readonly kv = new ByteBuilder();
  private readonly keys = new Set<string>();
  private readonly tensors: TensorEntry[] = [];
  private readonly tensorIndex = new Map<string, number>();
  private dataSize = 0;
  private next = 0;
  private busy = false;
  private file: AtomicFile | undefined;

  constructor(readonly path: string, options: GGUFWriterOptions = {}) {
    const a = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    if (!Number.isInteger(a) || a < 8 || (a & (a - 1)) !== 0) {
      throw new RangeError(`GGUF alignment must be a power of two >= 8, got ${a}`);
    }
    this.alignment = a;
    if (a !== GGUF_DEFAULT_ALIGNMENT) this.add(Keys.general.alignment, { type: 'u32', value: a });
  }

  private requireMeta(what: string): void {
    if (this.phase !== 'meta') throw new Error(`GGUF writer ${this.path}: cannot ${what} after tensor data started`);
  }

  /** Adds one KV pair. Keys are unique; general.alignment is set through the constructor option. */
  add(key: string, value: GGUFValue): this {
    this.requireMeta(`add key ${key}`);
    if (this.keys.has(key)) throw new Error(`GGUF writer ${this.path}: duplicate key ${key}`);
    if (key.length === 0) throw new Error(`GGUF writer ${this.path}: empty key`);
    if (key === Keys.general.alignment && !(value.type === 'u32' && value.value === this.alignment)) {
      throw new Error(`GGUF writer ${this.path}: set general.alignment through the alignment option`);
    }
    // Encode into a scratch builder first, so a bad value leaves no half-written KV behind.
    const scratch = new ByteBuilder();
    scratch.string(key);
    scratch.u32(GGUFValueType[value.type]);
    writeScalar(scratch, key, value.type, value.value);
    this.kv.bytes(scratch.toBytes());
    this.keys.add(key);
    return this;
  }

  addU8(key: string, v: number): this { return this.add(key, { type: 'u8', value: v }); }
  addI8(key: string, v: number): this { return this.add(key, { type: 'i8', value: v }); }
  addU16(key: string, v: number): this { return this.add(key, { type: 'u16', value: v }); }
  addI16(key: string, v: number): this { return this.add(key, { type: 'i16', value: v }); }
  addU32(key: string, v: number): this { return this.add(key, { type: 'u32', value: v }); }
  addI32(key: string, v: number): this { return this.add(key, { type: 'i32', value: v }); }
  addF32(key: string, v: number): this { return this.add(key, { type: 'f32', value: v }); }
  addF64(key: string, v: number): this { return this.add(key, { type: 'f64', value: v }); }
  addU64(key: string, v: bigint | number): this { return this.add(key, { type: 'u64', value: BigInt(v) }); }
  addI64(key: string, v: bigint | number): this { return this.add(key, { type: 'i64', value: BigInt(v) }); }
  addBool(key: string, v: boolean): this { return this.add(key, { type: 'bool', value: v }); }
  addString(key: string, v: string): this { return this.add(key, { type: 'string', value: v }); }
  addArray(key: string, arr: GGUFArray): this { return this.add(key, { type: 'array', value: arr }); }
  addStringArray(key: string, items: readonly string[]): this {
    return this.addArray(key, { elemType: 'string', items });
  }
  addNumberArray(key: string, elemType: GGUFNumberTypeName, items: ArrayLike<number>): this {
    return this.addArray(key, { elemType, items });
  }

  /**
   * Declares a tensor: its name (at most 63 bytes), ne in ggml order (ne0 = row length; a PyTorch
   * (out, in) matrix is [in, out]) and ggml type id. `byteLength`, when given, must equal what the
   * type and shape imply. Returns the byte length.
   */
  addTensor(name: string, ne: readonly number[], type: number, byteLength?: number): number {
    this.requireMeta(`declare tensor ${name}`);
    if (this.tensorIndex.has(name)) throw new Error(`GGUF writer ${this.path}: duplicate tensor ${name}`);
    const nameBytes = Buffer.byteLength(name, 'utf8');
    if (nameBytes === 0 || nameBytes > GGUF_MAX_NAME_BYTES) {
      throw new Error(`GGUF writer ${this.path}: tensor name ${JSON.stringify(name)} has ${nameBytes} bytes, allowed 1 to ${GGUF_MAX_NAME_BYTES}`);
    }
    if (ne.length < 1 || ne.length > GGUF_MAX_DIMS) {
      throw new Error(`GGUF writer ${this.path}: tensor ${name} has ${ne.length} dimensions, allowed 1 to ${GGUF_MAX_DIMS}`);
    }
    const info = ggmlTypeById(type);
    if (!info) throw new Error(`GGUF writer ${this.path}: tensor ${name} has unknown ggml type ${type}`);
    const size = tensorByteLength(info, ne);
    if (typeof size === 'string') throw new Error(`GGUF writer ${this.path}: tensor ${name}: ${size}`);
    if (byteLength !== undefined && byteLength !== size) {
      throw new Error(`GGUF writer ${this.path}: tensor ${name} is ${info.name} [${ne.join(', ')}] = ${size} bytes, got ${byteLength}`);
    }
    this.tensorIndex.set(name, this.tensors.length);
    this.tensors.push({ name, ne: [...ne], type, byteLength: size, offset: this.dataSize });
    this.dataSize += padTo(size, this.alignment);
    return size;
  }

  private header(): Uint8Array {
    const h = new ByteBuilder();
    h.u32(GGUF_MAGIC);
    h.u32(GGUF_WRITE_VERSION);
    h.u64(BigInt(this.tensors.length));
    h.u64(BigInt(this.keys.size));
    h.bytes(this.kv.toBytes());
    for (const t of this.tensors) {
      h.string(t.name);
      h.u32(t.ne.length);
      for (const d of t.ne) h.u64(BigInt(d));
      h.u32(t.type);
      h.u64(BigInt(t.offset));
    }
    h.bytes(new Uint8Array(padTo(h.length, this.alignment) - h.length));
    return h.toBytes();
  }

  private write(bytes: Uint8Array): void {
    writeFully(this.file!.fd, bytes);
  }

  /** Ends the metadata phase: opens the temporary file and writes the header. */
  private startData(): void {
    if (this.phase !== 'meta') return;
    this.phase = 'data';
    this.file = createAtomicFile(this.path);
    try {
      this.write(this.header());
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /**
   * Writes the bytes of the next declared tensor (tensors go in declaration order, each once), then
   * pads to the alignment. On a byte count that does not match the declaration, or any I/O error, the
   * temporary file is removed and the writer is done.
   */
  async writeTensor(name: string, data: TensorData): Promise<void> {
    if (this.phase === 'done') throw new Error(`GGUF writer ${this.path}: already finished or aborted`);
    if (this.busy) throw new Error(`GGUF writer ${this.path}: writeTensor(${name}) while another write is in progress`);
    const t = this.tensors[this.next];
    if (!t || t.name !== name) {
      const why = this.tensorIndex.has(name) ? (this.tensorIndex.get(name)! < this.next ? 'was already written' : `is out of order (next is ${t?.name})`) : 'was not declared';
      throw new Error(`GGUF writer ${this.path}: tensor ${name} ${why}`);
    }
    this.busy = true;
    try {
      this.startData();
      let written = 0;
      const put = (chunk: Uint8Array): void => {
        written += chunk.length;
        if (written > t.byteLength) throw new Error(`GGUF writer ${this.path}: tensor ${name} got more than its ${t.byteLength} bytes`);
        this.write(chunk);
      };
      if (ArrayBuffer.isView(data)) put(asBytes(data));
      else if (Symbol.asyncIterator in data) for await (const c of data) put(c);
      else for (const c of data) put(c);
      if (written !== t.byteLength) {
        throw new Error(`GGUF writer ${this.path}: tensor ${name} got ${written} bytes, declared ${t.byteLength}`);
      }
      this.write(new Uint8Array(padTo(t.byteLength, this.alignment) - t.byteLength));
      this.next++;
    } catch (e) {
      this.abort();
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** Checks that every declared tensor was written, then flushes and renames onto the final path. */
  async finish(): Promise<void> {
    if (this.phase === 'done') throw new Error(`GGUF writer ${this.path}: already finished or aborted`);
    if (this.busy) throw new Error(`GGUF writer ${this.path}: finish() while a write is in progress`);
    if (this.next < this.tensors.length) {
      throw new Error(`GGUF writer ${this.path}: ${this.tensors.length - this.next} tensors not written (next is ${this.tensors[this.next]!.name})`);
    }
    this.startData();
    this.phase = 'done';
    try {
      this.file!.commit();
    } catch (e) {
      this.file!.abort();
      throw e;
    }
  }

  /** Drops the temporary file; the final path is untouched. Safe to call at any time, more than once. */
  abort(): void {
    this.phase = 'done';
    this.file?.abort();
  }
}

/** One tensor for `writeGGUF`: its data, or a function called just when its turn comes. */
export interface GGUFTensorSpec {
  name: string;
  ne: readonly number[];
  type: number;
  data: TensorData | (() => TensorData | Promise<TensorData>);
}

/**
 * Writes a whole GGUF file: KVs in the given order, then the tensors in the given order. A tensor's
 * `data` function is called only when that tensor is written, so at most one tensor (as the caller
 * produces it) is in memory at a time. On any error nothing is left at `path`.
 */
export async function writeGGUF(
  path: string,
  spec: { kv?: Iterable<readonly [string, GGUFValue]>; tensors?: readonly GGUFTensorSpec[]; alignment?: number },
): Promise<void> {
  const w = new GGUFWriter(path, spec.alignment === undefined ? {} : { alignment: spec.alignment });
  try {
    for (const [k, v] of spec.kv ?? []) w.add(k, v);
    for (const t of spec.tensors ?? []) w.addTensor(t.name, t.ne, t.type);
    for (const t of spec.tensors ?? []) {
      await w.writeTensor(t.name, typeof t.data === 'function' ? await t.data() : t.data);
    }
    await w.finish();
  } catch (e) {
    w.abort();
    throw e;
  }
}
