/**
 * The BitNet transformer in tfjs: llama.cpp's "bitnet" graph (DESIGN.md, "The model"), with
 * fake-quantized BitLinears whose straight-through estimators (src/quant/ste.ts) pass gradients to
 * latent fp32 weights. The "fp" variant is the same graph with plain linears.
 *
 *   embed → N × [attn_norm → q,k,v → RoPE → causal GQA attention → attn_sub_norm → o → +res
 *                → ffn_norm → gate,up → act → ffn_sub_norm → down → +res] → output_norm → head
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../config/model.ts';
import { headDim, parseWeightScale } from '../config/model.ts';

import {
  bitLinear, bitLinearLatent, causalAttention, causalMask, crossEntropy, embed, gatedActivation, linear, normBitLinears, normQuantInput, quantizeInput, rmsNorm, rope, ropeTables,
  linearBf16, type MatmulPrecision, type QuantizedInput, type QuantizedWeight,
} from './ops.ts';
import { paramSpecs, type ParamSpec } from './params.ts';

let instances = 0;

export interface ForwardOptions {
  /**
   * Already-quantized linear weights (β·codes as f32, [out, in], with their segment scales) by name,
   * used instead of quantizing the latent weights in the graph: sampling quantizes once, and the parity
   * tests pass the exact values (fp16-rounded scales) that the exported file holds.
   */
  frozen?: Map<string, QuantizedWeight>;
  /** The float matmuls' inputs (config train.matmul_precision; fp32 by default): ops.ts MatmulPrecision. */
  matmulPrecision?: MatmulPrecision;
}

export class BitNetModel {
  readonly config: ModelConfig;
  readonly specs: ParamSpec[];
  /** Latent weights by GGUF name. */
  readonly vars = new Map<string, tf.Variable>();
  private readonly prefix: string;
  private readonly ropeCache = new Map<number, { cos: tf.Tensor2D; sin: tf.Tensor2D; mask: tf.Tensor2D }>();

  constructor(config: ModelConfig, values: Map<string, Float32Array>) {
    this.config = config;
    this.specs = paramSpecs(config);
    // tfjs variable names are global: a per-instance prefix lets tests hold several models.
    this.prefix = `m${instances++}/`;
    for (const s of this.specs) {
      const v = values.get(s.name);
      if (!v) throw new Error(`BitNetModel: no value for ${s.name}`);
      if (v.length !== s.shape.reduce((a, b) => a * b, 1)) throw new Error(`BitNetModel: ${s.name} has ${v.length} values, expected shape [${s.shape}]`);
      this.vars.set(s.name, tf.variable(tf.tensor(v, s.shape), true, this.prefix + s.name));
    }
  }

  /** The variable behind a tfjs variable name (for variableGrads results). */
  nameOf(tfName: string): string {
    return tfName.startsWith(this.prefix) ? tfName.slice(this.prefix.length) : tfName;
  }

  private v<R extends tf.Rank>(name: string): tf.Tensor<R> {
    const t = this.vars.get(name);
    if (!t) throw new Error(`BitNetModel: no parameter ${name}`);
    return t as unknown as tf.Tensor<R>;
  }

  /** Positional tables and the causal mask for length T, built once. */
  private tables(T: number) {
    let t = this.ropeCache.get(T);
    if (!t) {
      const { cos, sin } = ropeTables(T, headDim(this.config), this.config.rope_theta);
      const half = headDim(this.config) / 2;
      t = tf.tidy(() => ({
        cos: tf.keep(tf.tensor2d(cos, [T, half])),
        sin: tf.keep(tf.tensor2d(sin, [T, half])),
        mask: tf.keep(tf.tensor2d(causalMask(T), [T, T])),
      }));
      this.ropeCache.set(T, t);
    }
    return t;
  }

  /** The activation codes' width (act_quant int8 or int4; callers handle 'none'). */
  private actBits(): 8 | 4 {
    return this.config.act_quant === 'int8' ? 8 : 4;
  }

  /** Activation fake-quant (STE) of a BitLinear input; q/k/v (and gate/up) share one. */
  private quantAct(x: tf.Tensor2D): QuantizedInput {
    const c = this.config;
    return c.act_quant === 'none' ? { xq: x, sx: null } : quantizeInput(x, this.actBits());
  }

  /** quantAct(rmsNorm(x, norm)), as one op where the native kernels run (ops.ts normQuantInput). */
  private normQuant(x: tf.Tensor2D, norm: string): QuantizedInput {
    const c = this.config;
    const w = this.v<tf.Rank.R1>(norm);
    if (c.act_quant === 'none') return { xq: rmsNorm(x, w, c.norm_eps) as tf.Tensor2D, sx: null };
    return normQuantInput(x, w, c.norm_eps, this.actBits());
  }

  /**
   * The BitLinears `names` of rmsNorm(x, norm), quantized: on latent ternary/binary weights with
   * quantized activations as one op (ops.ts normBitLinears: nothing but x kept for the backward), else
   * normQuant then bitLinear each.
   */
  private normLinears(x: tf.Tensor2D, norm: string, names: string[], opts: ForwardOptions): tf.Tensor2D[] {
    const c = this.config;
    if (c.act_quant === 'none' || c.weight_quant === 'fp' || names.some((n) => opts.frozen?.has(n))) {
      const h = this.normQuant(x, norm);
      return names.map((n) => this.bitLinear(h, n, opts));
    }
    const ws = names.map((n) => this.v<tf.Rank.R2>(n));
    return normBitLinears(x, this.v<tf.Rank.R1>(norm), ws, c.norm_eps, this.actBits(), parseWeightScale(c.weight_scale), c.weight_quant, opts.matmulPrecision);
  }

  /** BitLinear on an already quantized input: weight fake-quant (STE), then x·Wᵀ (integer when it can: ops.ts bitLinear). */
  private bitLinear(xq: QuantizedInput, name: string, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const frozen = opts.frozen?.get(name);
    if (frozen) return bitLinear(xq, frozen, opts.matmulPrecision);
    const latent = this.v<tf.Rank.R2>(name);
    if (c.weight_quant === 'fp') return bitLinear(xq, { wq: latent, scale: null, group: 0 }, opts.matmulPrecision);
    return bitLinearLatent(xq, latent, parseWeightScale(c.weight_scale), c.weight_quant, opts.matmulPrecision);
  }

  /** Logits [B·T, V] for token ids [B·T] (row-major [B, T]). */
  forward(ids: Int32Array, B: number, T: number, opts: ForwardOptions = {}): tf.Tensor2D {
    const c = this.config;
    const hd = headDim(c);
    const H = c.n_heads;
    const Hkv = c.n_kv_heads;
    const N = B * T;
    if (ids.length !== N) throw new Error(`forward: ${ids.length} ids for B=${B}, T=${T}`);
    const { cos, sin, mask } = this.tables(T);
    const eps = c.norm_eps;

    // Each half-block in its own tidy: what its gradients need is saved (kept) by the ops themselves, so
    // the rest (projections, transposes, sums) is freed as the forward goes, not at its end.
    let x = embed(this.v<tf.Rank.R2>('token_embd.weight'), ids); // [N, d]
    for (let i = 0; i < c.n_layers; i++) {
      const b = `blk.${i}`;
      const xa = x;
      x = tf.tidy(() => {
        const [qp, kp, vp] = this.normLinears(xa, `${b}.attn_norm.weight`, [`${b}.attn_q.weight`, `${b}.attn_k.weight`, `${b}.attn_v.weight`], opts);
        const heads = (t: tf.Tensor2D, n: number) => tf.reshape(t, [B, T, n, hd]) as tf.Tensor4D; // [N, n·hd] → [B, T, n, hd]: a view
        const q = rope(heads(qp!, H), cos, sin);
        const k = rope(heads(kp!, Hkv), cos, sin);
        const v = heads(vp!, Hkv);
        const o = tf.reshape(causalAttention(q, k, v, mask), [N, c.d_model]) as tf.Tensor2D; // [B, T, H, hd] → [N, d]
        const out = `${b}.attn_output.weight`;
        const y = c.subln === 'on' ? this.normLinears(o, `${b}.attn_sub_norm.weight`, [out], opts)[0]! : this.bitLinear(this.quantAct(o), out, opts);
        return tf.add(xa, y) as tf.Tensor2D;
      });
      const xf = x;
      x = tf.tidy(() => {
        const [gate, up] = this.normLinears(xf, `${b}.ffn_norm.weight`, [`${b}.ffn_gate.weight`, `${b}.ffn_up.weight`], opts); // [N, ff] each
        const a = gatedActivation(gate!, up!, c.activation); // [N, ff]
        const down = `${b}.ffn_down.weight`;
        const y = c.subln === 'on' ? this.normLinears(a, `${b}.ffn_sub_norm.weight`, [down], opts)[0]! : this.bitLinear(this.quantAct(a), down, opts);
        return tf.add(xf, y) as tf.Tensor2D;
      });
    }
    const xf = rmsNorm(x, this.v('output_norm.weight'), eps) as tf.Tensor2D;
    const head = this.v<tf.Rank.R2>(c.tie_embeddings ? 'token_embd.weight' : 'output.weight');
    // [N, V]; the head is not quantized, as in the papers (bf16 inputs under matmul_precision bf16)
    return (opts.matmulPrecision === 'bf16' ? linearBf16 : linear)(xf, head);
  }

  /** Mean next-token cross-entropy (nats) of targets [B·T] given ids [B·T]. */
  loss(ids: Int32Array, targets: Int32Array, B: number, T: number, opts: ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => crossEntropy(this.forward(ids, B, T, opts), targets)); // the logits freed here, not at the step's end
  }

  /** Current latent weights as plain arrays (for checkpoints and export). */
  values(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [n, v] of this.vars) out.set(n, v.dataSync() as Float32Array);
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    for (const t of this.ropeCache.values()) tf.dispose([t.cos, t.sin, t.mask]);
    this.ropeCache.clear();
  }
}
