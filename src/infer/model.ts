/**
 * The forward pass (DESIGN.md "The model"), on engine weights (./weights.ts) and a kernel set
 * (./kernels): llama2.c's `forward()` with a KV cache, for a batch of new tokens at once (prompt
 * processing: the matmul kernels run over n rows) or one token at a time (generation).
 *
 *   embed → L × [attn_norm → quant → q,k,v → RoPE → causal GQA attention → attn_sub_norm → quant → o → +res
 *                → ffn_norm → quant → gate,up → act(gate)·up → ffn_sub_norm → quant → down → +res]
 *         → output_norm → head
 *
 * Every BitLinear input is quantized once per token (q, k, v share one quantized attn_norm output; gate
 * and up share one) with src/quant's absmax formula, multiplied with exact integer accumulation and
 * rescaled once (kernels.ternaryMatmulScaled). F16/F32 linears take the fake-quant values q/s (or the
 * floats when act_quant is "none"). RMSNorm (kernels.rmsNorm), RoPE with the KV cache store
 * (kernels.ropeStore), the gated activation (kernels.glu) and attention over the KV cache
 * (kernels.attention) are kernels computing in double in one defined order; the residual adds are
 * plain loops here.
 *
 * Memory: the KV cache (f32; K in tiles of 32 positions as kernels.attention reads it, V as [layer][kv
 * head][position][head dim]) and every scratch buffer are
 * allocated once in the constructor for `maxSeq` positions and `maxBatch` tokens per step; the typed
 * array views the kernels need (exact lengths) are made once per batch size and cached, so a generation
 * step allocates nothing.
 */
import { type Kernels, KV_TILE, kvTiledLength } from './kernels/index.ts';
import { quantizeActivations } from '../quant/activations.ts';
import { f16Table } from '../quant/fp16.ts';
import { jsStore, type WeightStore } from './store.ts';
import type { FloatMatrix, Hparams, Linear, TableMatrix, Weights } from './weights.ts';

export interface ModelOptions {
  kernels: Kernels;
  /** KV cache capacity in positions (default and maximum: the model's context length). */
  maxSeq?: number;
  /** Tokens per forward step; longer inputs are processed in chunks of this many (default 128). */
  maxBatch?: number;
  /**
   * Where the KV cache lives (default: plain ArrayBuffers). The engine passes the native store: in huge
   * pages, attention over a cold cache is not held up by a TLB miss per 4 KB page of keys and values.
   */
  store?: WeightStore;
}


/** Exact-length views of the scratch buffers for a step of n tokens (the kernels check lengths). */
interface Views {
  x: Float32Array;
  xnD: Float32Array;
  xqD: Int8Array;
  xqF: Int8Array;
  xfD: Float32Array;
  xfF: Float32Array;
  sx: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  att: Float32Array;
  hb: Float32Array;
  hb2: Float32Array;
  y: Float32Array;
}

export class Model {
  readonly hp: Hparams;
  readonly maxSeq: number;
  readonly maxBatch: number;
  /** Positions already in the KV cache: the next token goes at `pos`. */
  pos = 0;
  private readonly kernels: Kernels;
  private w: Weights;
  private kCache: Float32Array[];
  private vCache: Float32Array[];
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  // scratch, [maxBatch, width] row-major
  private readonly x: Float32Array;
  private readonly xn: Float32Array;
  private readonly xq: Int8Array;
  private readonly xf: Float32Array;
  private readonly sx: Float32Array;
  private readonly q: Float32Array;
  private readonly k: Float32Array;
  private readonly v: Float32Array;
  private readonly att: Float32Array;
  private readonly hb: Float32Array;
  private readonly hb2: Float32Array;
  private readonly logits: Float32Array;
  /** The one token id of a quantized embedding's row lookup (dequantRows), reused: a step allocates nothing. */
  private readonly tokenId = new Int32Array(1);
  // one token's fused q|k|v and gate|up outputs (LayerWeights.qkv, gateUp) and their parts
  private readonly qkv1: Float32Array;
  private readonly qkvViews: [Float32Array, Float32Array, Float32Array];
  private readonly gateUp1: Float32Array;
  private readonly gateUpViews: [Float32Array, Float32Array];
  private readonly views = new Map<number, Views>();

  constructor(weights: Weights, opts: ModelOptions) {
    const hp = (this.hp = weights.hp);
    this.w = weights;
    this.kernels = opts.kernels;
    this.maxSeq = Math.min(opts.maxSeq ?? hp.context_length, hp.context_length);
    this.maxBatch = Math.max(1, Math.min(opts.maxBatch ?? 128, this.maxSeq));
    if (!(Number.isInteger(this.maxSeq) && this.maxSeq >= 1)) throw new RangeError(`Model: maxSeq must be a positive integer, got ${opts.maxSeq}`);
    const B = this.maxBatch;
    const wide = Math.max(hp.d_model, hp.d_ff);
    const store = opts.store ?? jsStore();
    this.kCache = Array.from({ length: hp.n_layers }, () => store.f32(kvTiledLength(this.maxSeq) * hp.kv_dim));
    this.vCache = Array.from({ length: hp.n_layers }, () => store.f32(this.maxSeq * hp.kv_dim));
    const half = hp.head_dim / 2;
    this.cos = new Float32Array(this.maxSeq * half);
    this.sin = new Float32Array(this.maxSeq * half);
    for (let p = 0; p < this.maxSeq; p++)
      for (let i = 0; i < half; i++) {
        const a = p * hp.rope_theta ** ((-2 * i) / hp.head_dim);
        this.cos[p * half + i] = Math.cos(a);
        this.sin[p * half + i] = Math.sin(a);
      }
    this.x = new Float32Array(B * hp.d_model);
    this.xn = new Float32Array(B * hp.d_model);
    this.xq = new Int8Array(B * wide);
    const floatLinears = weights.layers.some((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].some((m) => m.kind !== 'ternary' && m.kind !== 'blocks'));
    this.xf = new Float32Array(floatLinears && hp.act_quant !== 'none' ? B * wide : 0);
    this.sx = new Float32Array(B);
    this.q = new Float32Array(B * hp.d_model);
    this.k = new Float32Array(B * hp.kv_dim);
    this.v = new Float32Array(B * hp.kv_dim);
    this.att = new Float32Array(B * hp.d_model);
    this.hb = new Float32Array(B * hp.d_ff);
    this.hb2 = new Float32Array(B * hp.d_ff);
    this.logits = new Float32Array(hp.vocab_size);
    this.qkv1 = new Float32Array(hp.d_model + 2 * hp.kv_dim);
    this.qkvViews = [this.qkv1.subarray(0, hp.d_model), this.qkv1.subarray(hp.d_model, hp.d_model + hp.kv_dim), this.qkv1.subarray(hp.d_model + hp.kv_dim)];
    this.gateUp1 = new Float32Array(2 * hp.d_ff);
    this.gateUpViews = [this.gateUp1.subarray(0, hp.d_ff), this.gateUp1.subarray(hp.d_ff)];
    this.viewsFor(1);
  }

  /** Forgets the cached positions (a new sequence starts at position 0). */
  reset(): void {
    this.pos = 0;
  }

  /** Keeps the first `n` cached positions and forgets the rest: a chat whose new prompt differs from the cache at token n re-prefills from there. */
  truncate(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.pos)) throw new RangeError(`Model.truncate: ${n} is not in [0, ${this.pos}] (the cached positions)`);
    this.pos = n;
  }

  /** Drops the weights, the cache and the scratch references; the model is unusable afterwards. */
  dispose(): void {
    this.kCache = [];
    this.vCache = [];
    this.views.clear();
    this.w = { ...this.w, layers: [] };
  }

  /**
   * Runs `tokens` at positions pos.. and appends them to the cache. Without `out`, returns the logits
   * of the last token (a view of a scratch buffer, valid until the next call); with `out`
   * (length tokens·vocab), writes the logits of every token there ("logits all", for eval and parity).
   */
  forward(tokens: ArrayLike<number>, out?: Float32Array): Float32Array {
    const n = tokens.length;
    const V = this.hp.vocab_size;
    if (n === 0) throw new RangeError('Model.forward: no tokens');
    if (this.pos + n > this.maxSeq) throw new RangeError(`Model.forward: ${this.pos} cached + ${n} new tokens exceed the ${this.maxSeq} positions of the cache`);
    if (out !== undefined && out.length !== n * V) throw new RangeError(`Model.forward: out has length ${out.length}, expected tokens*vocab = ${n * V}`);
    for (let i = 0; i < n; i++) {
      const t = tokens[i]!;
      if (!(Number.isInteger(t) && t >= 0 && t < V)) throw new RangeError(`Model.forward: token ${t} outside [0, ${V})`);
    }
    for (let c0 = 0; c0 < n; c0 += this.maxBatch) {
      const c1 = Math.min(n, c0 + this.maxBatch);
      const logitsOut = out !== undefined ? out.subarray(c0 * V, c1 * V) : c1 === n ? this.logits : null;
      this.step(tokens, c0, c1 - c0, logitsOut);
    }
    return out ?? this.logits;
  }

  private viewsFor(n: number): Views {
    let v = this.views.get(n);
    if (v) return v;
    const { d_model: d, d_ff: ff, kv_dim: kvDim } = this.hp;
    const f = <T extends Float32Array | Int8Array>(a: T, width: number): T => a.subarray(0, n * width) as T;
    v = {
      x: f(this.x, d), xnD: f(this.xn, d), xqD: f(this.xq, d), xqF: f(this.xq, ff),
      xfD: f(this.xf, this.xf.length ? d : 0), xfF: f(this.xf, this.xf.length ? ff : 0), sx: f(this.sx, 1),
      q: f(this.q, d), k: f(this.k, kvDim), v: f(this.v, kvDim), att: f(this.att, d),
      hb: f(this.hb, ff), hb2: f(this.hb2, ff),
      // the o and down projections' output shares q's buffer: q is dead once attention has read it
      // (the float input of a float linear is att, xn or xf, never q); 1.3 MB at 2B4T's 128-token batch
      y: f(this.q, d),
    };
    this.views.set(n, v);
    return v;
  }

  /** One chunk of n ≤ maxBatch tokens at positions pos..pos+n-1; logits of all n rows, or of the last, or none. */
  private step(tokens: ArrayLike<number>, t0: number, n: number, logitsOut: Float32Array | null): void {
    const { d_model: d, d_ff: ff, norm_eps: eps, activation } = this.hp;
    const vw = this.viewsFor(n);
    const pos0 = this.pos;
    for (let i = 0; i < n; i++) this.embed(tokens[t0 + i]!, vw.x, i * d);

    for (let l = 0; l < this.hp.n_layers; l++) {
      const L = this.w.layers[l]!;
      // attention
      this.kernels.rmsNorm(vw.x, L.attnNorm, n, d, eps, vw.xnD);
      const inD = this.quantize(vw.xnD, n, d, vw.xqD, vw.xfD);
      let { q, k, v } = vw;
      if (n === 1 && L.qkv) {
        // generation: one kernel call for q, k and v, read back as views of its output
        this.linear(L.qkv, 1, vw.xqD, inD, this.qkv1);
        [q, k, v] = this.qkvViews;
      } else {
        this.linear(L.q, n, vw.xqD, inD, q);
        this.linear(L.k, n, vw.xqD, inD, k);
        this.linear(L.v, n, vw.xqD, inD, v);
      }
      this.kernels.ropeStore(q, k, v, n, pos0, this.hp.n_heads, this.hp.n_kv_heads, this.hp.head_dim, this.cos, this.sin, this.kCache[l]!, this.vCache[l]!, this.maxSeq);
      this.attention(l, n, pos0, q, vw.att);
      let src = vw.att;
      if (L.attnSubNorm) {
        this.kernels.rmsNorm(vw.att, L.attnSubNorm, n, d, eps, vw.xnD);
        src = vw.xnD;
      }
      this.linear(L.o, n, vw.xqD, this.quantize(src, n, d, vw.xqD, vw.xfD), vw.y);
      addInPlace(vw.x, vw.y);
      // feed-forward
      this.kernels.rmsNorm(vw.x, L.ffnNorm, n, d, eps, vw.xnD);
      const inF = this.quantize(vw.xnD, n, d, vw.xqD, vw.xfD);
      let { hb, hb2 } = vw;
      if (n === 1 && L.gateUp) {
        this.linear(L.gateUp, 1, vw.xqD, inF, this.gateUp1);
        [hb, hb2] = this.gateUpViews;
      } else {
        this.linear(L.gate, n, vw.xqD, inF, hb);
        this.linear(L.up, n, vw.xqD, inF, hb2);
      }
      this.kernels.glu(hb, hb2, activation === 'swiglu');
      src = hb;
      if (L.ffnSubNorm) {
        // into hb2, dead once glu has read it: xn then needs only d_model columns (2.2 MB less at 2B4T's 128-token batch)
        this.kernels.rmsNorm(hb, L.ffnSubNorm, n, ff, eps, hb2);
        src = hb2;
      }
      this.linear(L.down, n, vw.xqF, this.quantize(src, n, ff, vw.xqF, vw.xfF), vw.y);
      addInPlace(vw.x, vw.y);
    }
    this.pos += n;
    if (logitsOut === null) return;
    if (logitsOut === this.logits) {
      // only the last row: norm it alone, then one row of the head
      const last = n === 1 ? vw.x : this.x.subarray((n - 1) * d, n * d);
      const xn = this.viewsFor(1).xnD;
      this.kernels.rmsNorm(last, this.w.outputNorm, 1, d, eps, xn);
      this.matmulTable(this.w.head, 1, xn, logitsOut);
    } else {
      this.kernels.rmsNorm(vw.x, this.w.outputNorm, n, d, eps, vw.xnD);
      this.matmulTable(this.w.head, n, vw.xnD, logitsOut);
    }
  }

  private embed(token: number, x: Float32Array, at: number): void {
    const e = this.w.embedding;
    const d = this.hp.d_model;
    if (e.kind === 'quant') {
      this.tokenId[0] = token;
      this.kernels.dequantRows(e.type, e.w, e.rows, e.cols, this.tokenId, x.subarray(at, at + d));
    } else if (e.kind === 'f32') for (let j = 0; j < d; j++) x[at + j] = e.w[token * d + j]!;
    else {
      const t = f16Table();
      for (let j = 0; j < d; j++) x[at + j] = t[e.w[token * d + j]!]!;
    }
  }

  /**
   * Quantizes the n rows of `src` per token into xq and this.sx (int8 through the kernels, int4 through
   * src/quant); returns the float input for float linears: the fake-quant values q/s, or `src` itself
   * when activations are not quantized.
   */
  private quantize(src: Float32Array, n: number, cols: number, xq: Int8Array, xf: Float32Array): Float32Array {
    const aq = this.hp.act_quant;
    if (aq === 'none') return src;
    const sx = this.viewsFor(n).sx;
    if (aq === 'int8') this.kernels.quantizeActivations(src, n, cols, xq, sx);
    else {
      // int4 (ablation models only): the kernels quantize to int8, so src/quant's formula runs here
      const r = quantizeActivations(src, cols, 4);
      xq.set(r.q);
      sx.set(r.scales);
    }
    if (xf.length === 0) return src; // no float linear reads it
    for (let i = 0; i < n; i++) {
      const s = sx[i]!;
      for (let j = i * cols; j < (i + 1) * cols; j++) xf[j] = xq[j]! / s;
    }
    return xf;
  }

  /** y[n, rows] = BitLinear(x): the integer kernel on (xq, sx) for ternary weights, else a float matmul of xf. */
  private linear(lin: Linear, n: number, xq: Int8Array, xf: Float32Array, y: Float32Array): void {
    if (lin.kind === 'ternary') {
      const sx = this.viewsFor(n).sx;
      this.kernels.ternaryMatmulScaled(lin.packed, lin.rows, lin.cols, xq, sx, n, lin.scale, lin.groupSize, y);
    } else if (lin.kind === 'blocks') this.kernels.ternaryMatmulBlocks(lin.type, lin.w, lin.rows, lin.cols, xq, this.viewsFor(n).sx, n, y);
    else this.matmulFloat(lin, n, xf, y);
  }

  /** The head: a float matmul, or the quantized kernel on the file's blocks. */
  private matmulTable(m: TableMatrix, n: number, x: Float32Array, y: Float32Array): void {
    if (m.kind === 'quant') this.kernels.matmulQuant(m.type, x, n, m.cols, m.w, m.rows, y);
    else this.matmulFloat(m, n, x, y);
  }

  private matmulFloat(m: FloatMatrix, n: number, x: Float32Array, y: Float32Array): void {
    if (m.kind === 'f16') this.kernels.matmulF16(x, n, m.cols, m.w, m.rows, y);
    else this.kernels.matmulF32(x, n, m.cols, m.w, m.rows, y);
  }

  /** Causal attention with GQA (kernels.attention): query head h reads kv head floor(h / (heads / kvHeads)); out [n, d]. */
  private attention(l: number, n: number, pos0: number, q: Float32Array, out: Float32Array): void {
    const { n_heads: heads, n_kv_heads: kvHeads, head_dim: headDim } = this.hp;
    this.kernels.attention(q, n, pos0, this.kCache[l]!, this.vCache[l]!, heads, kvHeads, headDim, this.maxSeq, out);
  }
}

function addInPlace(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i]!;
}
