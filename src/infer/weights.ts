/**
 * GGUF → engine weights (the first file of the engine, llama2.c's "structs + checkpoint reader").
 *
 * `readWeights(gguf)` validates an open GGUF of architecture "bitnet" against the model it describes
 * (every required key, every tensor's presence, ggml type and shape) and converts it, tensor by tensor,
 * into what the forward pass runs on:
 *   - ternary linears (TQ2_0, TQ1_0, bitnet.cpp's I2_S, our I8 codes of linears too narrow for blocks) → the kernels' packed 2-bit layout
 *     (src/infer/kernels/layout.ts) plus scales, collapsed to one per tensor or one per row when the
 *     blocks' d allow it, else one per 256-weight block (groupSize 256); I2_S has one scale per tensor;
 *     our group-scale files (d = 1 and a `.group_scales` F32 tensor {cols/g, rows}) give one scale per
 *     group of g input columns;
 *   - F16/F32 linears (the "fp" baseline) stay float; with act_quant "none" ternary linears are
 *     dequantized to F32 at load (those models are ablations, small by construction);
 *   - norms as F32; the embedding and the head as the file stores them: F16 (raw bits), F32, or the
 *     file's blocks of BF16, Q8_0, Q6_K, Q4_K, Q4_0 (what llama.cpp and bitnet.cpp write), which the
 *     kernels read directly (matmulQuant for the head, dequantRows for a token's row): widening a
 *     128k-row head to F32 at load would multiply the bytes every generated token reads.
 * Only one tensor's file bytes are in memory at a time beside what is kept, so peak memory stays near
 * the engine's own size; what is kept (packed linears, float matrices) lives in a WeightStore
 * (./store.ts: aligned, huge-page memory for the kernels). Every problem is an InputError naming the
 * file and the key or tensor.
 */
import { InputError } from '../errors.ts';
import { GGMLType, ggmlTypeById, TERNARY_TYPES, type GGUFFile, type GGUFTensorInfo } from '../format/gguf/index.ts';
import { BLOCK_LINEARS, headDimOf, kvDimOf, linearShape, OurKeys, readBitnetHparams, TensorNames, type BitnetHparams, type BlockLinear, type BlockTensor } from '../format/gguf/bitnet.ts';
import { f16BitsToF32 } from '../quant/fp16.ts';
import { unpackTQ1_0 } from '../quant/tq1_0.ts';
import type { QuantType, TernaryBlockType } from '../native/engine-kernels.ts';
import { nativeAddon } from '../native/addon.ts';
import { i2sToPacked, packedBytes, repackTernary, tq2_0ToPacked, unpackTernary } from './kernels/index.ts';
import { jsStore, type WeightStore } from './store.ts';
import type { MappedTensors } from './mapped.ts';

export type ActQuant = 'int8' | 'int4' | 'none';

/** The model's hyperparameters, from the file's keys (src/format/gguf/bitnet.ts), by the config's names. */
export interface Hparams extends BitnetHparams {
  head_dim: number;
  /** n_kv_heads · head_dim: the width of k and v. */
  kv_dim: number;
  act_quant: ActQuant;
}

/** A ternary linear [rows = out, cols = in]: value = t · scale (per tensor, per row or per group of input columns). */
export interface TernaryLinear {
  kind: 'ternary';
  rows: number;
  cols: number;
  packed: Uint8Array;
  /** Length 1 (per tensor) or rows (per row) when groupSize is 0, else rows · cols/groupSize. */
  scale: Float32Array;
  groupSize: number;
}

/**
 * A ternary linear [rows, cols] read in place: the file's TQ1_0 / TQ2_0 blocks, rows of cols/256
 * blocks, in the mapped file (EngineKernels.ternaryMatmulBlocks; its d's are the scales).
 */
export interface BlockTernaryLinear {
  kind: 'blocks';
  type: TernaryBlockType;
  rows: number;
  cols: number;
  w: Uint8Array;
}

/** A float matrix [rows, cols] (row-major = GGUF's ne {cols, rows}); F16 kept as raw bits. */
export type FloatMatrix = { kind: 'f32'; rows: number; cols: number; w: Float32Array } | { kind: 'f16'; rows: number; cols: number; w: Uint16Array };

/** token_embd / output in a GGUF block type: the file's bytes, rows of blocks (EngineKernels.matmulQuant). */
export interface QuantMatrix {
  kind: 'quant';
  type: QuantType;
  rows: number;
  cols: number;
  w: Uint8Array;
}

/** What the embedding and the head may be. */
export type TableMatrix = FloatMatrix | QuantMatrix;

export type Linear = TernaryLinear | BlockTernaryLinear | FloatMatrix;

export interface LayerWeights {
  attnNorm: Float32Array;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  /** null when the file has no sub-layer norms (subln off). */
  attnSubNorm: Float32Array | null;
  ffnNorm: Float32Array;
  gate: Linear;
  up: Linear;
  down: Linear;
  ffnSubNorm: Float32Array | null;
  /** q, k, v as one matrix [d + 2·kvDim, d] (fuseLinears), or null when they cannot be fused. */
  qkv: TernaryLinear | null;
  /** gate, up as one matrix [2·ff, d], or null. */
  gateUp: TernaryLinear | null;
}

export interface Weights {
  file: string;
  hp: Hparams;
  /** token_embd [vocab, d]. */
  embedding: TableMatrix;
  /** output [vocab, d], or the embedding itself when tied. */
  head: TableMatrix;
  tied: boolean;
  outputNorm: Float32Array;
  layers: LayerWeights[];
  /** The block linears as stored in the file: their bytes and weights (bits per weight = bytes·8/elements). */
  linearBytes: number;
  linearElements: number;
  /** 'TQ2_0', 'TQ1_0', 'I2_S', 'F16', 'F32' or 'mixed': the file's type of the block linears. */
  linearType: string;
  /** Whether the weights were read in place from the mapped file (ReadOptions.map) rather than copied. */
  mapped: boolean;
}

/** How readWeights gets at the tensors' bytes. */
export interface ReadOptions {
  /**
   * The whole file, mapped (src/infer/mapped.ts): the embedding, the head and the TQ1_0 / TQ2_0 linears
   * become views of it, read in place by the kernels, so the process holds no second copy; the rest
   * (norms, other linear types, linears with extra scale tensors) is converted as without it.
   */
  map?: MappedTensors | null;
}

const IN_PLACE_TYPES: ReadonlyMap<number, TernaryBlockType> = new Map<number, TernaryBlockType>([[GGMLType.TQ1_0, 'TQ1_0'], [GGMLType.TQ2_0, 'TQ2_0']]);

/** I8: our export's ternary codes of a linear too narrow for TQ blocks (src/format/export.ts fitsTernaryBlocks). */
const LINEAR_TYPES = new Set<number>([GGMLType.TQ2_0, GGMLType.TQ1_0, GGMLType.I2_S, GGMLType.I8, GGMLType.F16, GGMLType.F32]);
const FLOAT_TYPES = new Set<number>([GGMLType.F16, GGMLType.F32]);
/** The block types the kernels run embeddings and heads on, by ggml type id. */
const TABLE_QUANT: ReadonlyMap<number, QuantType> = new Map<number, QuantType>([
  [GGMLType.BF16, 'BF16'], [GGMLType.Q8_0, 'Q8_0'], [GGMLType.Q6_K, 'Q6_K'], [GGMLType.Q4_K, 'Q4_K'], [GGMLType.Q4_0, 'Q4_0'],
]);
const TABLE_TYPES = new Set<number>([...FLOAT_TYPES, ...TABLE_QUANT.keys()]);
/** Linears that read the same input, loaded into adjacent memory for fuseLinears. */
const FUSED_GROUPS = [['attn_q', 'attn_k', 'attn_v'], ['ffn_gate', 'ffn_up']] as const;

/** Reads and checks the hyperparameters: the architecture's, and ours (act_quant, and the keys' version). */
export function readHparams(f: GGUFFile): Hparams {
  const h = readBitnetHparams(f);
  const ours = f.getNumber(OurKeys.names.version, 0);
  if (ours > OurKeys.version) throw new InputError(f.path, `${OurKeys.names.version} is ${ours}, this engine reads up to ${OurKeys.version} (a newer bitnet-ts wrote it)`);
  const aq = f.getString(OurKeys.names.actQuant, 'int8');
  if (aq !== 'int8' && aq !== 'int4' && aq !== 'none') throw new InputError(f.path, `${OurKeys.names.actQuant} is "${aq}", expected "int8", "int4" or "none"`);
  return { ...h, head_dim: headDimOf(h), kv_dim: kvDimOf(h), act_quant: aq };
}

/** Tensor lookup and checks against the hyperparameters, all failing with the file's name. */
class TensorReader {
  /** Reused for the file bytes of ternary tensors, which are converted and dropped: no garbage per tensor. */
  private buf = new Uint8Array(0);

  constructor(
    readonly f: GGUFFile,
    readonly store: WeightStore,
    readonly map: MappedTensors | null,
  ) {}

  /** The tensor's bytes in the mapped file (only with a map). */
  view(t: GGUFTensorInfo): Uint8Array {
    return this.map!.view(t.name);
  }

  /** The block type a linear is read in place as, or null when it is converted (no map, another type, extra scale tensors, act_quant none). */
  inPlaceType(name: string, scaleName: string, hp: Hparams): TernaryBlockType | null {
    if (this.map === null || hp.act_quant === 'none' || !this.f.hasTensor(name)) return null;
    if (this.f.hasTensor(TensorNames.groupScales(name)) || this.f.hasTensor(scaleName)) return null;
    return IN_PLACE_TYPES.get(this.f.tensor(name).type) ?? null;
  }

  /** The bytes of a tensor that is converted rather than kept, read into the reused buffer. */
  transient(name: string): Uint8Array {
    const n = this.f.tensor(name).byteLength;
    if (this.buf.length < n) this.buf = new Uint8Array(n);
    return this.f.readTensor(name, this.buf.subarray(0, n));
  }

  fail(name: string, problem: string): never {
    throw new InputError(this.f.path, `tensor ${name}: ${problem}`);
  }

  /** The tensor, checked to exist with ne exactly `ne` and a type in `types`. */
  info(name: string, ne: readonly number[], types: ReadonlySet<number>): GGUFTensorInfo {
    if (!this.f.hasTensor(name)) throw new InputError(this.f.path, `missing tensor ${name}`);
    const t = this.f.tensor(name);
    if (t.ne.length !== ne.length || t.ne.some((v, i) => v !== ne[i]))
      this.fail(name, `shape [${t.ne.join(', ')}] contradicts the metadata, expected [${ne.join(', ')}] (ne order)`);
    if (!types.has(t.type)) {
      const allowed = [...types].map((id) => ggmlTypeById(id)!.name).join(', ');
      this.fail(name, `type ${t.typeName} is not supported here (supported: ${allowed})`);
    }
    return t;
  }

  /** A 1-D F32 (or F16) vector of length n. */
  vector(name: string, n: number): Float32Array {
    const t = this.info(name, [n], FLOAT_TYPES);
    return toF32(this.f.readTensor(name), t.type, n);
  }

  optionalVector(name: string, n: number): Float32Array | null {
    return this.f.hasTensor(name) ? this.vector(name, n) : null;
  }

  /** A float matrix [rows, cols] (ne {cols, rows}). */
  matrix(name: string, rows: number, cols: number): FloatMatrix {
    return this.table(name, rows, cols, FLOAT_TYPES) as FloatMatrix;
  }

  /** The embedding or the head [rows, cols]: a float matrix, or the file's blocks of a TABLE_QUANT type. */
  table(name: string, rows: number, cols: number, types: ReadonlySet<number> = TABLE_TYPES): TableMatrix {
    const t = this.info(name, [cols, rows], types);
    // in place when mapped (GGUF's alignment keeps F16/F32 data on its element size; else a copy)
    const bytes = this.map !== null && t.offset % 4 === 0 ? this.view(t) : this.f.readTensor(name, this.store.bytes(t.byteLength));
    const quant = TABLE_QUANT.get(t.type);
    if (quant) return { kind: 'quant', type: quant, rows, cols, w: bytes };
    if (t.type === GGMLType.F16) return { kind: 'f16', rows, cols, w: new Uint16Array(bytes.buffer, bytes.byteOffset, rows * cols) };
    return { kind: 'f32', rows, cols, w: new Float32Array(bytes.buffer, bytes.byteOffset, rows * cols) };
  }
}

function toF32(bytes: Uint8Array, type: number, n: number): Float32Array {
  if (type === GGMLType.F32) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]!);
  return out;
}

/**
 * The smallest scale granularity that expresses per-256-block scales d (rows·cols/256 of them): one
 * value when all are equal, one per row when each row's are, else all of them with groupSize 256.
 */
export function collapseScales(d: Float32Array, rows: number, cols: number): { scale: Float32Array; groupSize: number } {
  const perRow = cols / 256;
  if (d.every((v) => v === d[0])) return { scale: Float32Array.of(d[0]!), groupSize: 0 };
  let rowsUniform = true;
  for (let r = 0; r < rows && rowsUniform; r++)
    for (let b = 1; b < perRow; b++)
      if (d[r * perRow + b] !== d[r * perRow]) {
        rowsUniform = false;
        break;
      }
  if (!rowsUniform) return { scale: d, groupSize: 256 };
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) scale[r] = d[r * perRow]!;
  return { scale, groupSize: 0 };
}

/** A ternary tensor's packed codes and per-256-block scales (I2_S: its one scale, as a d of length 1). */
function readTernary(tr: TensorReader, name: string, t: GGUFTensorInfo, rows: number, cols: number, into?: Uint8Array): { packed: Uint8Array; d: Float32Array } {
  const bytes = tr.transient(name);
  try {
    const out = into ?? tr.store.bytes(packedBytes(rows, cols));
    if (t.type === GGMLType.I2_S) {
      const { packed, scale } = i2sToPacked(bytes, rows, cols, out);
      return { packed, d: Float32Array.of(scale) };
    }
    if (t.type === GGMLType.I8) {
      const codes = new Int8Array(bytes.buffer, bytes.byteOffset, rows * cols);
      const bad = codes.findIndex((c) => c < -1 || c > 1);
      if (bad >= 0) throw new RangeError(`holds ${codes[bad]} at element ${bad}; an I8 linear holds ternary codes -1, 0, 1`);
      return { packed: repackTernary(codes, rows, cols, out), d: Float32Array.of(1) };
    }
    const native = nativeAddon();
    const blockType = IN_PLACE_TYPES.get(t.type);
    if (native !== null && blockType !== undefined) {
      // the same bytes as the TS conversions below, on the thread pool (a TQ1_0 2b4t file: ~50 s -> ~1 s)
      const nb = (rows * cols) / 256;
      if (out.length !== nb * 64) throw new RangeError(`packed has ${out.length} bytes, expected ${nb * 64}`);
      const d = new Float32Array(nb);
      const bad = native.ternaryBlocksToPacked(blockType, bytes, nb, out, d);
      if (bad >= 0) throw new RangeError(`block ${bad} holds the unused 2-bit code 3`);
      return { packed: out, d };
    }
    if (t.type === GGMLType.TQ2_0) {
      const { packed, scaleBits } = tq2_0ToPacked(bytes, rows, cols, out);
      const d = new Float32Array(scaleBits.length);
      for (let i = 0; i < d.length; i++) d[i] = f16BitsToF32(scaleBits[i]!);
      return { packed, d };
    }
    const { codes, d } = unpackTQ1_0(bytes, (rows * cols) / 256);
    return { packed: repackTernary(codes, rows, cols, out), d };
  } catch (e) {
    if (e instanceof RangeError) tr.fail(name, e.message);
    throw e;
  }
}

/**
 * Linears that read the same input as one matrix: their rows stacked, one kernel call instead of
 * several (and one longer stream of weights). Possible when all are ternary over the same columns,
 * with the same group size, and their packed codes lie back to back in one buffer (readWeights places
 * them so); per-tensor scales become per-row ones, which rescale every output by the same value, so
 * the outputs are bit for bit those of the separate linears. Otherwise null.
 */
export function fuseLinears(parts: readonly Linear[]): TernaryLinear | null {
  const ts = parts.filter((p): p is TernaryLinear => p.kind === 'ternary');
  if (ts.length !== parts.length || ts.length === 0) return null;
  const first = ts[0]!;
  let end = first.packed.byteOffset;
  for (const t of ts) {
    if (t.cols !== first.cols || t.groupSize !== first.groupSize || t.packed.buffer !== first.packed.buffer || t.packed.byteOffset !== end) return null;
    end += t.packed.byteLength;
  }
  const rows = ts.reduce((a, t) => a + t.rows, 0);
  let scale: Float32Array;
  if (first.groupSize > 0) {
    scale = new Float32Array(ts.reduce((a, t) => a + t.scale.length, 0));
    let o = 0;
    for (const t of ts) {
      scale.set(t.scale, o);
      o += t.scale.length;
    }
  } else {
    scale = new Float32Array(rows);
    let o = 0;
    for (const t of ts) {
      if (t.scale.length === 1) scale.fill(t.scale[0]!, o, o + t.rows);
      else scale.set(t.scale, o);
      o += t.rows;
    }
  }
  const packed = new Uint8Array(first.packed.buffer, first.packed.byteOffset, end - first.packed.byteOffset);
  return { kind: 'ternary', rows, cols: first.cols, packed, scale, groupSize: first.groupSize };
}

/** The float values t·scale of a ternary linear, for act_quant "none". */
export function dequantizeTernary(l: TernaryLinear): Float32Array {
  const { rows, cols, scale, groupSize } = l;
  const codes = unpackTernary(l.packed, rows, cols);
  const out = new Float32Array(rows * cols);
  const groups = groupSize > 0 ? cols / groupSize : 0;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const s = groupSize > 0 ? scale[r * groups + Math.floor(c / groupSize)]! : scale[scale.length === 1 ? 0 : r]!;
      out[r * cols + c] = codes[r * cols + c]! * s;
    }
  return out;
}

/**
 * The bytes of a linear's side tensors (its group scales, its output scale): part of what the linear
 * costs in the file, so that bits per weight counts a group:64 file's scales (0.5 bits per weight).
 */
function sideTensorBytes(f: GGUFFile, name: string, scaleName: string): number {
  return [TensorNames.groupScales(name), scaleName].reduce((b, n) => b + (f.hasTensor(n) ? f.tensor(n).byteLength : 0), 0);
}

/** A per-tensor output scale `blk.N.KIND.scale` {1} (1bitLLM conversions), or 1 when the file has none. */
function outputScale(tr: TensorReader, scaleName: string): number {
  if (!tr.f.hasTensor(scaleName)) return 1;
  const s = tr.vector(scaleName, 1)[0]!;
  if (!(Number.isFinite(s) && s !== 0)) tr.fail(scaleName, `is ${s}, expected a finite non-zero scale`);
  return s;
}

/**
 * Reads a linear; a ternary one's packed codes go to `into` when given (a slice of a fused group). A
 * separate per-tensor output scale multiplies its scales (ternary) or its weights (float, then F32).
 */
function readLinear(tr: TensorReader, name: string, rows: number, cols: number, hp: Hparams, into: Uint8Array | undefined, scaleName: string): { linear: Linear; info: GGUFTensorInfo } {
  const t = tr.info(name, [cols, rows], LINEAR_TYPES);
  const inPlace = tr.inPlaceType(name, scaleName, hp);
  if (inPlace !== null) return { linear: { kind: 'blocks', type: inPlace, rows, cols, w: tr.view(t) }, info: t };
  const out = outputScale(tr, scaleName);
  if (FLOAT_TYPES.has(t.type)) {
    const m = tr.matrix(name, rows, cols);
    if (out === 1) return { linear: m, info: t };
    const w = m.kind === 'f32' ? m.w : toF32(new Uint8Array(m.w.buffer, m.w.byteOffset, m.w.byteLength), GGMLType.F16, rows * cols);
    return { linear: { kind: 'f32', rows, cols, w: w.map((v) => v * out) }, info: t };
  }
  const { packed, d } = readTernary(tr, name, t, rows, cols, into);
  let lin: TernaryLinear;
  const gsName = TensorNames.groupScales(name);
  if (tr.f.hasTensor(gsName)) {
    const gsInfo = tr.f.tensor(gsName);
    const groups = gsInfo.ne[0]!;
    const g = cols / groups;
    if (!Number.isInteger(g)) tr.fail(gsName, `${groups} groups do not split the ${cols} input columns of ${name} evenly`);
    const gsType = tr.info(gsName, [groups, rows], FLOAT_TYPES).type;
    const gs = toF32(tr.f.readTensor(gsName), gsType, groups * rows);
    if (d.some((v) => v !== d[0])) tr.fail(name, 'has group_scales but its blocks carry different scales d (expected one d, normally 1)');
    const scale = gs.map((v) => v * d[0]!);
    // one group per row is a scale per row (our I8 linears of per-tensor or per-row scales), one scale when all agree
    if (groups === 1) lin = { kind: 'ternary', rows, cols, packed, scale: scale.every((v) => v === scale[0]) ? Float32Array.of(scale[0]!) : scale, groupSize: 0 };
    else lin = { kind: 'ternary', rows, cols, packed, scale, groupSize: g };
  } else {
    lin = { kind: 'ternary', rows, cols, packed, ...collapseScales(d, rows, cols) };
  }
  if (out !== 1) lin = { ...lin, scale: lin.scale.map((v) => v * out) };
  if (hp.act_quant === 'none') return { linear: { kind: 'f32', rows, cols, w: dequantizeTernary(lin) }, info: t };
  return { linear: lin, info: t };
}

/**
 * Validates and loads every tensor of an open bitnet GGUF (the caller closes it). Tensors are read in
 * the order the forward pass uses them, one at a time, into `store` (the engine passes the native
 * store: src/infer/store.ts).
 */
export function readWeights(f: GGUFFile, store: WeightStore = jsStore(), opts: ReadOptions = {}): Weights {
  const hp = readHparams(f);
  const tr = new TensorReader(f, store, opts.map ?? null);
  const { d_model: d, d_ff: ff, vocab_size: vocab } = hp;
  if (!f.hasTensor(TensorNames.tokenEmbd)) throw new InputError(f.path, `missing tensor ${TensorNames.tokenEmbd}`);
  const embedding = tr.table(TensorNames.tokenEmbd, vocab, d);
  let linearBytes = 0;
  let linearElements = 0;
  const types = new Set<string>();
  const layers: LayerWeights[] = [];
  for (let i = 0; i < hp.n_layers; i++) {
    const name = (kind: BlockTensor) => TensorNames.block(i, kind);
    const shapes = Object.fromEntries(BLOCK_LINEARS.map((kind) => [kind, linearShape(hp, kind)])) as Record<BlockLinear, [number, number]>;
    const lin = {} as Record<BlockLinear, Linear>;
    // q, k, v (and gate, up) read the same input: their packed codes are placed back to back in one
    // buffer, so that fuseLinears can run each group as one matrix
    const slot = new Map<string, Uint8Array>();
    for (const group of FUSED_GROUPS) {
      const kinds = group.map((g) => name(g));
      if (hp.act_quant === 'none' || !kinds.every((t) => f.hasTensor(t) && TERNARY_TYPES.has(f.tensor(t).type))) continue;
      if (group.some((g) => tr.inPlaceType(name(g), TensorNames.scale(i, g), hp) !== null)) continue; // read in place, not fused
      const sizes = group.map((g) => packedBytes(...shapes[g]));
      const buf = tr.store.bytes(sizes.reduce((a, b) => a + b, 0));
      let o = 0;
      group.forEach((g, i) => {
        slot.set(g, buf.subarray(o, o + sizes[i]!));
        o += sizes[i]!;
      });
    }
    for (const kind of BLOCK_LINEARS) {
      const [rows, cols] = shapes[kind];
      const { linear, info } = readLinear(tr, name(kind), rows, cols, hp, slot.get(kind), TensorNames.scale(i, kind));
      lin[kind] = linear;
      linearBytes += info.byteLength + sideTensorBytes(f, name(kind), TensorNames.scale(i, kind));
      linearElements += info.nElements;
      types.add(info.typeName);
    }
    layers.push({
      attnNorm: tr.vector(name('attn_norm'), d),
      q: lin.attn_q, k: lin.attn_k, v: lin.attn_v, o: lin.attn_output,
      attnSubNorm: tr.optionalVector(name('attn_sub_norm'), d),
      ffnNorm: tr.vector(name('ffn_norm'), d),
      gate: lin.ffn_gate, up: lin.ffn_up, down: lin.ffn_down,
      ffnSubNorm: tr.optionalVector(name('ffn_sub_norm'), ff),
      qkv: fuseLinears([lin.attn_q, lin.attn_k, lin.attn_v]),
      gateUp: fuseLinears([lin.ffn_gate, lin.ffn_up]),
    });
  }
  const outputNorm = tr.vector(TensorNames.outputNorm, d);
  const tied = !f.hasTensor(TensorNames.output);
  const head = tied ? embedding : tr.table(TensorNames.output, vocab, d);
  return {
    file: f.path, hp, embedding, head, tied, outputNorm, layers, linearBytes, linearElements,
    linearType: types.size === 1 ? [...types][0]! : 'mixed',
    mapped: tr.map !== null,
  };
}
