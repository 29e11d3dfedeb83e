/**
 * Tiny bitnet GGUF files written in the test (random codes and scales in every layout the engine
 * reads), and the slow, obviously-correct reference forward that the engine is checked against:
 * dequantized float weights, fake-quant activations from src/quant, the whole sequence at once with
 * plain loops and no cache. Declared as the reference (llm.c's habit): slow on purpose.
 */
import type { NativeAddon, NativeIsa } from '../../src/native/addon.ts';
import path from 'node:path';
import { GGMLType, hparamsKv, Keys, neOf, openGGUF, OurKeys, tensorTable, TensorNames, writeGGUF, type BitnetArch, type BlockTensor, type GGUFTensorSpec, type GGUFValue } from '../../src/format/index.ts';
import { Rng } from '../../src/data/rng.ts';
import { synthVocab } from '../../src/infer/synth.ts';
import { fakeQuantActivations } from '../../src/quant/activations.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/quant/fp16.ts';
import { GGML_CODECS } from '../../src/quant/ggml_codecs.ts';
import { packI2_S } from '../../src/quant/i2_s.ts';
import { packTQ1_0 } from '../../src/quant/tq1_0.ts';
import { packTQ2_0 } from '../../src/quant/tq2_0.ts';

/** The types an embedding or a head may have in a tiny file. */
export type TableType = 'F16' | 'F32' | 'BF16' | 'Q8_0' | 'Q6_K' | 'Q4_K' | 'Q4_0';

export interface TinySpec {
  arch?: BitnetArch;
  d_model?: number;
  n_layers?: number;
  d_ff?: number;
  n_heads?: number;
  n_kv_heads?: number;
  vocab_size?: number;
  context_length?: number;
  activation?: 'swiglu' | 'relu2';
  subln?: boolean;
  /** Type of the block linears (I2_S: one scale per tensor, whatever `scales` says). */
  type?: 'TQ2_0' | 'TQ1_0' | 'I2_S' | 'F16' | 'F32';
  /** How the TQ block scales d vary: one per tensor, per row, per block (other tools), or d = 1 + group_scales of g columns. */
  scales?: 'tensor' | 'row' | 'block' | { group: number };
  act_quant?: 'int8' | 'int4' | 'none';
  embedding?: TableType;
  /** The untied head's type (default: the embedding's). */
  output?: TableType;
  tied?: boolean;
  seed?: number;
  /** More metadata (a chat template, say). */
  kv?: [string, GGUFValue][];
}

/** The float model the reference runs: every weight as the file defines its value. */
export interface RefModel {
  d: number; layers: number; ff: number; heads: number; kvHeads: number; vocab: number; eps: number; base: number;
  activation: 'swiglu' | 'relu2';
  actBits: 8 | 4 | 0;
  emb: Float32Array;
  head: Float32Array;
  /** 0 for a float head; else the head's input is int8-quantized per group of this many columns (a block type's head). */
  headGroup: number;
  outNorm: Float32Array;
  blocks: Array<Record<string, Float32Array | null>>;
}

const f16round = (v: number): number => f16BitsToF32(f32ToF16Bits(v));

function randCodes(rng: Rng, n: number): Int8Array {
  const c = new Int8Array(n);
  for (let i = 0; i < n; i++) c[i] = rng.next() < 1 / 3 ? 0 : rng.next() < 0.5 ? -1 : 1;
  return c;
}

/** Writes the model to dir/name and returns its path and the reference weights. */
export async function writeTinyModel(dir: string, name: string, spec: TinySpec = {}): Promise<{ file: string; ref: RefModel; codes: Map<string, Int8Array> }> {
  const s = { arch: 'bitnet' as BitnetArch, d_model: 256, n_layers: 2, d_ff: 512, n_heads: 4, n_kv_heads: 2, vocab_size: 300, context_length: 64, activation: 'swiglu' as const, subln: true, type: 'TQ2_0' as const, scales: 'tensor' as const, act_quant: 'int8' as const, embedding: 'F16' as const, tied: true, seed: 1, ...spec };
  const rng = new Rng(s.seed);
  const file = path.join(dir, name);
  const { tokens, types, merges } = synthVocab(s.vocab_size);
  const kv: [string, GGUFValue][] = [
    ...hparamsKv({ ...s, norm_eps: 1e-5, rope_theta: 10000 }),
    [OurKeys.names.actQuant, { type: 'string', value: s.act_quant }],
    [Keys.tokenizer.model, { type: 'string', value: 'gpt2' }],
    [Keys.tokenizer.pre, { type: 'string', value: 'gpt-2' }],
    [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens } }],
    [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }],
    [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: merges } }],
    [Keys.tokenizer.eosId, { type: 'u32', value: s.vocab_size - 1 }],
    ...(spec.kv ?? []),
  ];
  const tensors: GGUFTensorSpec[] = [];
  const codesByName = new Map<string, Int8Array>();

  const floatTensor = (name: string, ne: number[], values: Float32Array, type: TableType): Float32Array => {
    if (type !== 'F16' && type !== 'F32') return blockTensor(name, ne, values, type);
    if (type === 'F32') {
      tensors.push({ name, ne, type: GGMLType.F32, data: values });
      return values;
    }
    const bits = Uint16Array.from(values, (v) => f32ToF16Bits(v));
    tensors.push({ name, ne, type: GGMLType.F16, data: bits });
    return Float32Array.from(bits, (b) => f16BitsToF32(b));
  };
  /** A tensor in a block type: `values` quantized by src/quant's reference quantizer (Q4_K, which has none: random blocks); returns the decoded values. */
  const blockTensor = (name: string, ne: number[], values: Float32Array, type: Exclude<TableType, 'F16' | 'F32'>): Float32Array => {
    const c = GGML_CODECS[type];
    let bytes: Uint8Array;
    if (c.quantizeRow) bytes = c.quantizeRow(values);
    else {
      bytes = Uint8Array.from({ length: c.byteLength(values.length) }, () => rng.int(256));
      for (let o = 0; o < bytes.length; o += c.blockBytes) {
        const dBits = f32ToF16Bits(0.02 * (0.5 + rng.next()));
        const mBits = f32ToF16Bits(0.05 * (0.5 + rng.next()));
        bytes.set([dBits & 0xff, dBits >> 8, mBits & 0xff, mBits >> 8], o); // d, dmin
      }
    }
    tensors.push({ name, ne, type: GGMLType[type], data: bytes });
    const out = new Float32Array(values.length);
    c.dequantizeRow(bytes, values.length, out);
    return out;
  };
  const normal = (n: number, std: number) => rng.fillNormal(new Float32Array(n), std);
  const norm = (name: string, n: number) => floatTensor(name, [n], Float32Array.from(normal(n, 0.2), (v) => 1 + v), 'F32');

  const linear = (name: string, rows: number, cols: number): Float32Array => {
    if (s.type === 'F16' || s.type === 'F32') return floatTensor(name, [cols, rows], normal(rows * cols, 0.05), s.type);
    const codes = randCodes(rng, rows * cols);
    codesByName.set(name, codes);
    if (s.type === 'I2_S') {
      const scale = Math.fround(0.01 + 0.04 * rng.next());
      tensors.push({ name, ne: [cols, rows], type: GGMLType.I2_S, data: packI2_S(codes, scale) });
      return Float32Array.from(codes, (c) => c * scale);
    }
    const perRow = cols / 256;
    const base = 0.01 + 0.04 * rng.next();
    const d = new Float32Array(rows * perRow);
    for (let r = 0; r < rows; r++) {
      const rowD = base * (0.5 + rng.next());
      for (let b = 0; b < perRow; b++) d[r * perRow + b] = s.scales === 'tensor' ? base : s.scales === 'row' ? rowD : typeof s.scales === 'object' ? 1 : base * (0.5 + rng.next());
    }
    tensors.push({ name, ne: [cols, rows], type: s.type === 'TQ2_0' ? GGMLType.TQ2_0 : GGMLType.TQ1_0, data: (s.type === 'TQ2_0' ? packTQ2_0 : packTQ1_0)(codes, d) });
    const w = new Float32Array(rows * cols);
    let gs: Float32Array | null = null;
    const g = typeof s.scales === 'object' ? s.scales.group : 0;
    if (g > 0) {
      gs = Float32Array.from({ length: rows * (cols / g) }, () => base * (0.5 + rng.next()));
      tensors.push({ name: TensorNames.groupScales(name), ne: [cols / g, rows], type: GGMLType.F32, data: gs });
    }
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const scale = g > 0 ? gs![r * (cols / g) + Math.floor(c / g)]! : f16round(d[r * perRow + Math.floor(c / 256)]!);
        w[r * cols + c] = codes[r * cols + c]! * scale;
      }
    return w;
  };

  // Every tensor of the architecture's table, in its order, drawn from one stream.
  const values = new Map<string, Float32Array>();
  for (const t of tensorTable(s, { subln: s.subln, tied: s.tied })) {
    const [rows, cols] = t.shape as [number, number];
    if (t.role === 'embedding' || t.role === 'head') values.set(t.name, floatTensor(t.name, neOf(t.shape), normal(rows * cols, 1), t.role === 'head' ? (s.output ?? s.embedding) : s.embedding));
    else if (t.role === 'norm') values.set(t.name, norm(t.name, rows));
    else values.set(t.name, linear(t.name, rows, cols));
  }
  const emb = values.get(TensorNames.tokenEmbd)!;
  const blocks: RefModel['blocks'] = [];
  for (let i = 0; i < s.n_layers; i++) {
    const b = (k: BlockTensor) => values.get(TensorNames.block(i, k)) ?? null;
    blocks.push({
      attn_norm: b('attn_norm'), q: b('attn_q'), k: b('attn_k'), v: b('attn_v'), attn_sub_norm: b('attn_sub_norm'), o: b('attn_output'),
      ffn_norm: b('ffn_norm'), gate: b('ffn_gate'), up: b('ffn_up'), ffn_sub_norm: b('ffn_sub_norm'), down: b('ffn_down'),
    });
  }
  const outNorm = values.get(TensorNames.outputNorm)!;
  const head = s.tied ? emb : values.get(TensorNames.output)!;
  const headType = s.tied ? s.embedding : (s.output ?? s.embedding);
  await writeGGUF(file, { kv, tensors });
  const ref: RefModel = {
    d: s.d_model, layers: s.n_layers, ff: s.d_ff, heads: s.n_heads, kvHeads: s.n_kv_heads, vocab: s.vocab_size, eps: Math.fround(1e-5), base: 10000,
    activation: s.activation, actBits: s.act_quant === 'int8' ? 8 : s.act_quant === 'int4' ? 4 : 0, emb, head, outNorm, blocks,
    headGroup: headType === 'F16' || headType === 'F32' || headType === 'BF16' ? 0 : GGML_CODECS[headType].blockSize,
  };
  return { file, ref, codes: codesByName };
}

/** rows of x [T, cols] normalized: x / sqrt(mean x² + eps) · w. */
function refNorm(x: Float32Array, cols: number, w: Float32Array, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < x.length / cols; t++) {
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[t * cols + j]! ** 2;
    const r = 1 / Math.sqrt(ss / cols + eps);
    for (let j = 0; j < cols; j++) out[t * cols + j] = x[t * cols + j]! * r * w[j]!;
  }
  return out;
}

/** y [T, rows] = xq [T, cols] · Wᵀ, x fake-quantized per token first (unless bits = 0). */
function refLinear(x: Float32Array, cols: number, w: Float32Array, bits: 8 | 4 | 0): Float32Array {
  const xq = bits === 0 ? x : fakeQuantActivations(x, cols, bits);
  const T = x.length / cols;
  const rows = w.length / cols;
  const y = new Float32Array(T * rows);
  for (let t = 0; t < T; t++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += xq[t * cols + c]! * w[r * cols + c]!;
      y[t * rows + r] = s;
    }
  return y;
}

/** Rotate-half RoPE of one head vector at position p. */
function refRope(v: Float32Array, o: number, hd: number, p: number, base: number): void {
  const half = hd / 2;
  for (let i = 0; i < half; i++) {
    const a = p * base ** ((-2 * i) / hd);
    const c = Math.fround(Math.cos(a));
    const s = Math.fround(Math.sin(a));
    const x1 = v[o + i]!;
    const x2 = v[o + half + i]!;
    v[o + i] = x1 * c - x2 * s;
    v[o + half + i] = x2 * c + x1 * s;
  }
}

/** Logits [T, vocab] of the whole sequence. */
export function referenceForward(m: RefModel, ids: ArrayLike<number>): Float32Array {
  const T = ids.length;
  const { d, ff, heads, kvHeads } = m;
  const hd = d / heads;
  const kvDim = kvHeads * hd;
  let x = new Float32Array(T * d);
  for (let t = 0; t < T; t++) x.set(m.emb.subarray(ids[t]! * d, (ids[t]! + 1) * d), t * d);
  for (const b of m.blocks) {
    const h = refNorm(x, d, b.attn_norm!, m.eps);
    const q = refLinear(h, d, b.q!, m.actBits);
    const k = refLinear(h, d, b.k!, m.actBits);
    const v = refLinear(h, d, b.v!, m.actBits);
    for (let t = 0; t < T; t++) {
      for (let hh = 0; hh < heads; hh++) refRope(q, t * d + hh * hd, hd, t, m.base);
      for (let hh = 0; hh < kvHeads; hh++) refRope(k, t * kvDim + hh * hd, hd, t, m.base);
    }
    let att: Float32Array<ArrayBufferLike> = new Float32Array(T * d);
    for (let t = 0; t < T; t++)
      for (let hh = 0; hh < heads; hh++) {
        const kvh = Math.floor(hh / (heads / kvHeads));
        const sc: number[] = [];
        for (let u = 0; u <= t; u++) {
          let s = 0;
          for (let j = 0; j < hd; j++) s += q[t * d + hh * hd + j]! * k[u * kvDim + kvh * hd + j]!;
          sc.push(s / Math.sqrt(hd));
        }
        const mx = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < hd; j++) {
          let o = 0;
          for (let u = 0; u <= t; u++) o += (e[u]! / z) * v[u * kvDim + kvh * hd + j]!;
          att[t * d + hh * hd + j] = o;
        }
      }
    if (b.attn_sub_norm) att = refNorm(att, d, b.attn_sub_norm, m.eps);
    const o = refLinear(att, d, b.o!, m.actBits);
    x = x.map((xv, i) => xv + o[i]!);
    const hf = refNorm(x, d, b.ffn_norm!, m.eps);
    const g = refLinear(hf, d, b.gate!, m.actBits);
    const u = refLinear(hf, d, b.up!, m.actBits);
    let a: Float32Array<ArrayBufferLike> = g.map((gv, i) => (m.activation === 'swiglu' ? gv / (1 + Math.exp(-gv)) : Math.max(gv, 0) ** 2) * u[i]!);
    if (b.ffn_sub_norm) a = refNorm(a, ff, b.ffn_sub_norm, m.eps);
    const dn = refLinear(a, ff, b.down!, m.actBits);
    x = x.map((xv, i) => xv + dn[i]!);
  }
  // a block-type head quantizes its input per weight block (EngineKernels.matmulQuant), as llama.cpp's vec_dot with Q8 activations
  const xn = refNorm(x, d, m.outNorm, m.eps);
  return refLinear(m.headGroup > 0 ? fakeQuantActivations(xn, m.headGroup, 8) : xn, d, m.head, 0);
}

/** Rewrites the GGUF at `src` to `out` with its KVs and tensors edited (the tensors' data as read). */
export async function rewriteGGUF(src: string, out: string, edit: (kv: Map<string, GGUFValue>, tensors: GGUFTensorSpec[]) => void): Promise<string> {
  const f = openGGUF(src);
  const kv = new Map(f.kv);
  const tensors: GGUFTensorSpec[] = f.tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type, data: f.readTensor(t.name) }));
  f.close();
  edit(kv, tensors);
  await writeGGUF(out, { kv: [...kv], tensors });
  return out;
}

/**
 * The instruction sets to test the addon's kernels on: the CPU's best and every one below it, best
 * first. Registers an after() hook (call inside a describe) that restores the ISA and thread count.
 */
export function nativeIsasUnderTest(a: NativeAddon): NativeIsa[] {
  const order = ['avx512vnni', 'avx2', 'scalar'] as const;
  const defaultThreads = a.threads();
  after(() => {
    a.setThreads(defaultThreads);
    a.setIsa('auto');
  });
  return order.slice(order.indexOf(a.isa()));
}

/** A describe per instruction set under test (nativeIsasUnderTest), the addon set to it for its tests. */
export function describeEachIsa(a: NativeAddon, body: (isa: NativeIsa) => void, label: (isa: NativeIsa) => string = (isa) => isa): void {
  for (const isa of nativeIsasUnderTest(a))
    describe(label(isa), () => {
      before(() => a.setIsa(isa));
      after(() => a.setIsa('auto'));
      body(isa);
    });
}
